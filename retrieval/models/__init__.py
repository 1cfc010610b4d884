"""Learned models: the image autoencoder, the text-to-code regressor, baselines and tag fusion.

Import the modules directly (``retrieval.models.autoencoder``, ``retrieval.models.regressor``,
...); this package imports none of them, so loading it does not start Keras.
"""
