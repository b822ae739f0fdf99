"""``python -m codekd`` (also what ``accelerate launch -m codekd distill ...`` runs)."""

import sys

from .cli import main

sys.exit(main())
