"""retrieval: find the image that a description talks about.

The package is import-light: ``import retrieval`` loads neither TensorFlow nor
Keras. Heavy pieces live in sub-packages that are imported on first use.

Example
-------
>>> import retrieval
>>> retrieval.__version__
'0.2.0'
"""

__version__ = "0.2.0"

__all__ = ["__version__"]
