"""Pinned real-code sources for the builders (exact versions: the datasets are a function of these).

Changing a pin changes the dataset; the versions written into ``stats.json`` are the ones used.

``EXCEPTION_PROJECTS``
    Python projects from PyPI (wheels; some have compiled parts but ship most of their code as
    ``.py``), mined by ``codekd data build-exceptions`` together with the standard library of the
    running Python. The first 90 picked (the large pure-Python ones: Django, sympy, Twisted, ...)
    gave only 6.9k examples under CuBERT's rules, so the list was widened to about 390 projects
    with large code bases and kept to those that yield at least 5 examples each (measured with
    Python 3.11); the measured yield is in the README's data section.
``CLONE_PYTHON_PROJECTS`` / ``CLONE_JAVA_PROJECTS``
    ``(project, old, new)`` with ``old`` / ``new`` = ``(registry, package, exact version)``: the
    same project in two releases, for the real cross-version clone pairs of ``codekd data
    build-clones``. Python from PyPI (wheels). Java (Maven Central is not reachable here) from two
    places: Debian source packages of libraries that Debian ships in two major versions side by side
    (commons-lang 2 and commons-lang3, commons-math 2 and 3, ...; ``apt-get source``, the upstream
    tarball), and the npm registry, where React Native and its Android plugins publish their
    ``.java`` sources inside the package (versions from the years before many moved to Kotlin).
"""

from __future__ import annotations

EXCEPTION_PROJECTS: tuple[tuple[str, str], ...] = (
    ("accelerate", "1.15.0"), ("aiohttp", "3.9.1"), ("alembic", "1.13.0"), ("allennlp", "2.10.1"),
    ("altair", "6.3.0"), ("amqp", "5.4.2"), ("angr", "9.2.213"), ("anndata", "0.12.19"), ("ansible", "12.3.0"),
    ("ansible-core", "2.16.0"), ("ansible-lint", "26.10.1"), ("apache-superset", "6.1.0"),
    ("apscheduler", "3.11.3"), ("ariadne", "1.1.1"), ("arrow", "1.4.0"), ("arviz", "0.23.4"),
    ("asciimatics", "1.15.0"), ("ase", "3.29.0"), ("astroid", "3.0.1"), ("astropy", "8.0.2"),
    ("astroquery", "0.4.11"), ("attrs", "23.1.0"), ("autobahn", "26.10.2"), ("avro", "1.12.2"),
    ("awscli", "1.31.1"), ("Babel", "2.13.1"), ("behave", "1.3.3"), ("billiard", "4.2.0"), ("biopython", "1.88"),
    ("bitarray", "3.12.3"), ("black", "23.11.0"), ("blessed", "1.52.0"), ("bokeh", "3.9.2"), ("boto", "2.49.0"),
    ("botocore", "1.33.1"), ("bottle", "0.12.25"), ("breezy", "3.3.23"), ("BTrees", "6.5"), ("buildbot", "4.3.0"),
    ("cartopy", "0.26.0"), ("cassandra-driver", "3.30.1"), ("catboost", "1.2.10"), ("celery", "5.3.6"),
    ("cfn-lint", "1.58.0"), ("Chameleon", "4.6.0"), ("channels", "4.3.2"), ("cherrypy", "18.10.0"),
    ("chex", "0.1.92"), ("click", "8.1.7"), ("cliff", "4.17.0"), ("cmd2", "4.3.1"), ("connexion", "3.3.0"),
    ("construct", "2.10.70"), ("crossbar", "26.10.1"), ("cryptography", "41.0.7"), ("cssutils", "2.15.0"),
    ("Cython", "3.3.1"), ("daphne", "4.2.3"), ("dash", "4.4.1"), ("dask", "2023.12.0"), ("datasets", "5.2.0"),
    ("dateparser", "1.5.0"), ("deepchem", "2.8.0"), ("diffusers", "0.42.1"), ("dill", "0.4.1"), ("dipy", "1.12.1"),
    ("distributed", "2023.12.0"), ("Django", "4.2.7"), ("django-allauth", "65.22.1"), ("django-cms", "5.1.3"),
    ("django-debug-toolbar", "8.0.0"), ("django-extensions", "4.1"), ("django-oscar", "4.2.1"),
    ("djangorestframework", "3.18.3"), ("dnspython", "2.4.2"), ("docker", "7.2.0"), ("docutils", "0.20.1"),
    ("dramatiq", "2.2.1"), ("duckdb", "2.0.1"), ("dulwich", "1.2.21"), ("elasticsearch", "9.5.1"),
    ("evaluate", "0.4.6"), ("eventlet", "0.41.3"), ("Faker", "40.63.0"), ("falcon", "4.4.0"),
    ("fastapi", "0.165.0"), ("feedparser", "6.0.10"), ("fiona", "1.10.1"), ("fire", "0.7.1"), ("flake8", "7.5.0"),
    ("Flask", "3.0.0"), ("flask-admin", "2.2.1"), ("flask-appbuilder", "5.3.0"), ("flask-login", "0.6.3"),
    ("flask-restx", "1.3.2"), ("flax", "0.12.8"), ("flower", "2.2.0"), ("fpdf2", "2.8.9"), ("Genshi", "0.7.12"),
    ("gensim", "4.4.0"), ("geopandas", "1.2.0"), ("gevent", "26.9.0"), ("GitPython", "3.2.1"),
    ("google-api-python-client", "2.202.0"), ("google-auth", "2.63.0"), ("gradio", "6.31.0"), ("graphene", "3.4.3"),
    ("gunicorn", "21.2.0"), ("h2", "4.4.1"), ("h5py", "3.16.0"), ("hachoir", "3.4.0"), ("hatchling", "1.33.0"),
    ("healpy", "1.20.1"), ("holoviews", "1.23.2"), ("html5lib", "1.1"), ("httpx", "0.25.2"), ("huey", "3.5.4"),
    ("huggingface-hub", "2.4.0"), ("hypercorn", "0.18.0"), ("hyperopt", "0.3.0"), ("hypothesis", "6.91.0"),
    ("ibis-framework", "12.0.0"), ("imageio", "2.38.1"), ("imbalanced-learn", "0.14.2"), ("impacket", "0.13.1"),
    ("invoke", "2.2.0"), ("ipykernel", "7.4.0"), ("ipython", "8.18.1"), ("ipywidgets", "8.1.9"), ("isort", "9.0.2"),
    ("jax", "0.10.2"), ("jedi", "0.19.1"), ("Jinja2", "3.1.2"), ("joblib", "1.6.0"), ("jsonpickle", "4.1.4"),
    ("jsonschema", "4.20.0"), ("jupyter_client", "8.6.0"), ("jupyter_core", "5.5.0"), ("jupyter_server", "2.10.1"),
    ("jupyterhub", "6.1.1"), ("jupyterlab", "4.6.6"), ("kafka-python", "3.0.12"), ("kazoo", "2.11.0"),
    ("keras", "3.15.1"), ("keystoneauth1", "5.18.1"), ("kombu", "5.3.4"), ("kubernetes", "37.0.2"),
    ("lark", "1.3.1"), ("ldap3", "2.9.1"), ("lightgbm", "4.7.0"), ("lmfit", "1.3.4"), ("locust", "2.47.0"),
    ("luigi", "3.8.1"), ("mailman", "3.3.10"), ("Mako", "1.3.0"), ("Markdown", "3.5.1"),
    ("markdown-it-py", "4.3.0"), ("marshmallow", "3.20.1"), ("matplotlib", "3.8.2"), ("mdanalysis", "2.11.0"),
    ("mezzanine", "6.1.1"), ("mitmproxy", "11.0.2"), ("mkdocs", "1.6.1"), ("mlflow", "3.18.0"), ("mne", "1.13.2"),
    ("modin", "0.37.1"), ("mongoengine", "0.29.3"), ("moto", "5.2.5"), ("mpmath", "1.4.1"), ("mypy", "1.7.1"),
    ("mysql-connector-python", "26.10.0"), ("myst-parser", "5.2.0"), ("napalm", "5.2.0"), ("nbconvert", "7.11.0"),
    ("nbformat", "5.9.2"), ("nbsphinx", "0.9.8"), ("ncclient", "0.7.1"), ("netaddr", "1.3.0"), ("netmiko", "4.8.0"),
    ("networkx", "3.2.1"), ("nibabel", "5.4.2"), ("nilearn", "0.14.1"), ("nltk", "3.8.1"), ("nose", "1.3.7"),
    ("nox", "2026.10.20"), ("numba", "0.68.1"), ("numpy", "1.26.2"), ("oauth2client", "4.1.3"),
    ("oauthlib", "3.2.2"), ("obspy", "1.5.1"), ("open3d", "0.20.0"), ("openpyxl", "3.1.2"),
    ("openstacksdk", "4.22.0"), ("optuna", "5.0.0"), ("os-brick", "7.1.1"), ("osc-lib", "4.7.0"),
    ("oslo.concurrency", "7.6.1"), ("oslo.config", "10.7.0"), ("oslo.db", "18.1.1"), ("oslo.log", "8.3.2"),
    ("oslo.messaging", "18.3.1"), ("oslo.policy", "6.0.1"), ("oslo.service", "4.8.0"), ("oslo.utils", "10.2.0"),
    ("paho-mqtt", "2.2.0"), ("pandas", "2.1.3"), ("panel", "1.9.4"), ("papermill", "2.7.0"), ("paramiko", "3.3.1"),
    ("parso", "0.8.3"), ("passlib", "1.7.4"), ("Paste", "3.10.1"), ("pdfminer.six", "20260107"), ("pdm", "2.29.4"),
    ("peewee", "4.5.3"), ("pefile", "2024.8.26"), ("pelican", "4.12.0"), ("pennylane", "0.45.1"),
    ("persistent", "6.9"), ("petl", "1.7.30"), ("pexpect", "4.9.0"), ("pika", "1.4.4"), ("pillow", "13.0.0"),
    ("pint", "0.25.3"), ("pip", "23.3.1"), ("pipenv", "2026.10.3"), ("plotly", "7.1.0"), ("plumbum", "2.0.2"),
    ("pmdarima", "2.1.1"), ("poetry", "2.5.1"), ("polars", "2.1.0"), ("pony", "0.7.17"), ("pre-commit", "4.7.0"),
    ("prefect", "3.9.1"), ("prometheus-client", "0.26.0"), ("prompt-toolkit", "3.0.41"), ("prophet", "1.5.0"),
    ("psycopg", "3.3.9"), ("pulumi", "3.272.0"), ("pwntools", "4.15.0"), ("pyarrow", "26.0.1"), ("pyasn1", "0.5.1"),
    ("pycparser", "3.12"), ("pycryptodome", "4.4.0"), ("pydantic", "1.10.13"), ("pyexcel", "0.7.6"),
    ("pyfftw", "0.15.1"), ("pyflakes", "4.1.0"), ("pyglet", "2.0.10"), ("Pygments", "2.17.2"),
    ("pyinstaller", "6.22.3"), ("pylint", "3.0.2"), ("pymatgen", "2026.10.24"), ("pymc", "5.28.5"),
    ("pymodbus", "3.16.1"), ("pymongo", "4.20.1"), ("PyMySQL", "1.2.4"), ("pyomo", "6.10.1"), ("pypdf", "7.1.1"),
    ("pyproj", "3.7.2"), ("pyqtgraph", "0.14.0"), ("pyramid", "2.0.2"), ("pyscf", "2.14.0"), ("pyserial", "3.5"),
    ("pysnmp", "7.1.30"), ("pytest", "7.4.3"), ("python-cinderclient", "9.10.0"), ("python-docx", "1.2.0"),
    ("python-glanceclient", "4.13.0"), ("python-heatclient", "5.3.0"), ("python-keystoneclient", "6.0.0"),
    ("python-lsp-server", "1.15.0"), ("python-neutronclient", "14.0.0"), ("python-novaclient", "18.13.1"),
    ("python-openstackclient", "10.5.0"), ("python-pptx", "1.0.2"), ("python-swiftclient", "4.11.0"),
    ("pytorch-lightning", "2.6.6"), ("pyusb", "1.3.1"), ("pyvista", "0.49.1"), ("pyVmomi", "9.1.1.0"),
    ("pywavelets", "1.9.0"), ("pywbem", "1.9.1"), ("qiskit", "2.6.2"), ("qtconsole", "5.7.2"),
    ("quantities", "0.16.4"), ("quart", "0.22.0"), ("rasterio", "1.4.4"), ("ray", "2.60.0"), ("rdflib", "7.6.0"),
    ("rdkit", "2026.9.1"), ("redis", "5.0.1"), ("reportlab", "4.0.7"), ("requests", "2.31.0"),
    ("requests-toolbelt", "1.0.0"), ("responses", "0.26.3"), ("robotframework", "7.5"), ("rope", "1.15.2"),
    ("rq", "3.0.0"), ("rsa", "4.9"), ("ruamel.yaml", "0.18.5"), ("s3transfer", "0.8.2"), ("sanic", "25.12.1"),
    ("scanpy", "1.11.5"), ("scapy", "2.8.0"), ("scikit-image", "0.26.0"), ("scikit-learn", "1.3.2"),
    ("scipy", "1.11.4"), ("Scrapy", "2.11.0"), ("seaborn", "0.13.2"), ("selenium", "4.52.0"),
    ("sentry-sdk", "2.75.0"), ("setuptools", "69.0.2"), ("sh", "2.4.0"), ("shap", "0.51.0"), ("shapely", "2.2.0"),
    ("simplejson", "4.3.0"), ("sktime", "1.2.0"), ("spacy", "3.8.18"), ("Sphinx", "7.2.6"), ("spyder", "6.1.8"),
    ("SQLAlchemy", "2.0.23"), ("sqlalchemy-utils", "0.43.0"), ("SQLObject", "3.14.0"), ("stanza", "1.15.0"),
    ("starlette", "1.10.0"), ("statsmodels", "0.14.0"), ("stevedore", "5.10.0"), ("strawberry-graphql", "0.341.2"),
    ("streamlit", "1.67.0"), ("sunpy", "7.0.5"), ("supervisor", "4.3.0"), ("sympy", "1.12"), ("tables", "3.11.1"),
    ("tablib", "3.10.0"), ("taskflow", "6.5.0"), ("tensorflow-probability", "0.25.0"), ("textblob", "0.20.1"),
    ("textual", "8.2.8"), ("thinc", "9.1.1"), ("thrift", "0.25.0"), ("tomlkit", "0.12.3"), ("tooz", "9.1.0"),
    ("torchmetrics", "1.9.0"), ("torchvision", "0.29.1"), ("tornado", "6.3.3"), ("tortoise-orm", "1.1.9"),
    ("tox", "4.67.15"), ("tqdm", "4.70.1"), ("Trac", "1.6"), ("traitlets", "5.16.1"), ("transformers", "5.24.0"),
    ("trimesh", "5.2.0"), ("troposphere", "4.11.1"), ("tslearn", "0.10.0"), ("Twisted", "23.10.0"),
    ("typer", "0.29.2"), ("uncertainties", "3.2.3"), ("urllib3", "2.1.0"), ("urwid", "5.1.0"),
    ("uvicorn", "0.54.0"), ("vcrpy", "9.4.2"), ("virtualenv", "20.25.0"), ("vispy", "0.17.0"),
    ("volatility3", "2.28.2"), ("vtk", "9.7.2"), ("wagtail", "8.0.1"), ("waitress", "2.1.2"), ("wandb", "0.31.0"),
    ("WebOb", "1.8.11"), ("websocket-client", "1.9.2"), ("websockets", "17.4"), ("Werkzeug", "3.0.1"),
    ("wheel", "0.48.0"), ("WTForms", "3.3.2"), ("xarray", "2026.9.0"), ("xgboost", "3.2.0"), ("xlrd", "2.0.1"),
    ("XlsxWriter", "3.3.1"), ("xmlschema", "4.3.2"), ("xmltodict", "1.0.4"), ("zake", "0.2.2"), ("zarr", "3.1.6"),
    ("zeroconf", "0.154.0"), ("ZODB", "6.4"), ("zope.component", "7.1"), ("zope.interface", "8.7"),
    ("zulip", "0.9.1"),
)

Spec = tuple[str, str, str]  # (registry, package, exact version)

CLONE_PYTHON_PROJECTS: tuple[tuple[str, Spec, Spec], ...] = (
    ("Django", ("pypi", "Django", "3.2.23"), ("pypi", "Django", "4.2.7")),
    ("sympy", ("pypi", "sympy", "1.9"), ("pypi", "sympy", "1.12")),
    ("requests", ("pypi", "requests", "2.25.1"), ("pypi", "requests", "2.31.0")),
    ("Flask", ("pypi", "Flask", "2.0.3"), ("pypi", "Flask", "3.0.0")),
    ("Werkzeug", ("pypi", "Werkzeug", "2.0.3"), ("pypi", "Werkzeug", "3.0.1")),
    ("click", ("pypi", "click", "7.1.2"), ("pypi", "click", "8.1.7")),
    ("Jinja2", ("pypi", "Jinja2", "2.11.3"), ("pypi", "Jinja2", "3.1.2")),
    ("docutils", ("pypi", "docutils", "0.17.1"), ("pypi", "docutils", "0.20.1")),
    ("Pygments", ("pypi", "Pygments", "2.11.2"), ("pypi", "Pygments", "2.17.2")),
    ("networkx", ("pypi", "networkx", "2.6.3"), ("pypi", "networkx", "3.2.1")),
    ("Sphinx", ("pypi", "Sphinx", "4.5.0"), ("pypi", "Sphinx", "7.2.6")),
    ("pylint", ("pypi", "pylint", "2.13.9"), ("pypi", "pylint", "3.0.2")),
    ("astroid", ("pypi", "astroid", "2.11.7"), ("pypi", "astroid", "3.0.1")),
    ("jedi", ("pypi", "jedi", "0.18.1"), ("pypi", "jedi", "0.19.1")),
    ("openpyxl", ("pypi", "openpyxl", "3.0.10"), ("pypi", "openpyxl", "3.1.2")),
    ("paramiko", ("pypi", "paramiko", "2.12.0"), ("pypi", "paramiko", "3.3.1")),
    ("Scrapy", ("pypi", "Scrapy", "2.6.3"), ("pypi", "Scrapy", "2.11.0")),
    ("celery", ("pypi", "celery", "5.2.7"), ("pypi", "celery", "5.3.6")),
    ("kombu", ("pypi", "kombu", "5.2.4"), ("pypi", "kombu", "5.3.4")),
    ("nltk", ("pypi", "nltk", "3.7"), ("pypi", "nltk", "3.8.1")),
    ("ansible-core", ("pypi", "ansible-core", "2.13.13"), ("pypi", "ansible-core", "2.16.0")),
    ("setuptools", ("pypi", "setuptools", "65.5.1"), ("pypi", "setuptools", "69.0.2")),
    ("pip", ("pypi", "pip", "22.3.1"), ("pypi", "pip", "23.3.1")),
    ("urllib3", ("pypi", "urllib3", "1.26.18"), ("pypi", "urllib3", "2.1.0")),
    ("attrs", ("pypi", "attrs", "21.4.0"), ("pypi", "attrs", "23.1.0")),
    ("marshmallow", ("pypi", "marshmallow", "3.14.1"), ("pypi", "marshmallow", "3.20.1")),
    ("alembic", ("pypi", "alembic", "1.8.1"), ("pypi", "alembic", "1.13.0")),
    ("Babel", ("pypi", "Babel", "2.10.3"), ("pypi", "Babel", "2.13.1")),
    ("tornado", ("pypi", "tornado", "6.2"), ("pypi", "tornado", "6.3.3")),
    ("httpx", ("pypi", "httpx", "0.23.3"), ("pypi", "httpx", "0.25.2")),
)

CLONE_JAVA_PROJECTS: tuple[tuple[str, Spec, Spec], ...] = (
    # Debian bookworm source packages that ship two major versions of one library side by side
    ("commons-lang", ("debian", "libcommons-lang-java", "2.6-10+deb12u1"),
     ("debian", "libcommons-lang3-java", "3.12.0-2+deb12u1")),
    ("commons-collections", ("debian", "libcommons-collections3-java", "3.2.2-2"),
     ("debian", "libcommons-collections4-java", "4.2-1")),
    ("commons-math", ("debian", "commons-math", "2.2-8"), ("debian", "commons-math3", "3.6.1-3")),
    ("commons-pool", ("debian", "commons-pool", "1.6-4"), ("debian", "commons-pool2", "2.11.1-1")),
    ("jdom", ("debian", "libjdom1-java", "1.1.3-3"), ("debian", "libjdom2-java", "2.0.6.1-1")),
    # npm packages that publish their Android Java sources
    ("react-native", ("npm", "react-native", "0.60.0"), ("npm", "react-native", "0.71.0")),
    ("cordova-android", ("npm", "cordova-android", "9.1.0"), ("npm", "cordova-android", "11.0.0")),
    ("@capacitor/android", ("npm", "@capacitor/android", "3.9.0"), ("npm", "@capacitor/android", "5.7.0")),
    ("react-native-svg", ("npm", "react-native-svg", "12.1.1"), ("npm", "react-native-svg", "13.14.0")),
    ("react-native-maps", ("npm", "react-native-maps", "0.31.1"), ("npm", "react-native-maps", "1.7.1")),
    ("react-native-camera", ("npm", "react-native-camera", "3.44.3"), ("npm", "react-native-camera", "4.2.1")),
    ("react-native-video", ("npm", "react-native-video", "5.1.1"), ("npm", "react-native-video", "5.2.1")),
    ("react-native-fs", ("npm", "react-native-fs", "2.16.6"), ("npm", "react-native-fs", "2.20.0")),
    ("react-native-device-info", ("npm", "react-native-device-info", "8.0.0"), ("npm", "react-native-device-info", "10.13.0")),
    ("react-native-image-picker", ("npm", "react-native-image-picker", "3.8.1"), ("npm", "react-native-image-picker", "5.7.0")),
    ("@react-native-async-storage/async-storage", ("npm", "@react-native-async-storage/async-storage", "1.15.0"), ("npm", "@react-native-async-storage/async-storage", "1.21.0")),
    ("@react-native-firebase/firestore", ("npm", "@react-native-firebase/firestore", "14.0.0"), ("npm", "@react-native-firebase/firestore", "18.0.0")),
    ("@react-native-firebase/messaging", ("npm", "@react-native-firebase/messaging", "14.0.0"), ("npm", "@react-native-firebase/messaging", "18.0.0")),
    ("@react-native-firebase/auth", ("npm", "@react-native-firebase/auth", "14.0.0"), ("npm", "@react-native-firebase/auth", "18.0.0")),
    ("react-native-navigation", ("npm", "react-native-navigation", "4.0.0"), ("npm", "react-native-navigation", "7.30.0")),
    ("@react-native-community/netinfo", ("npm", "@react-native-community/netinfo", "5.9.10"), ("npm", "@react-native-community/netinfo", "9.4.1")),
)
