"""The one Keras training call the networks share: shuffled epochs, optional validation data
with early stopping, and the history as plain floats (JSON-ready)."""

from __future__ import annotations

from typing import Any


def fit_history(
    model: Any,
    inputs: Any,
    targets: Any,
    *,
    epochs: int,
    batch_size: int,
    validation: Any = None,
    patience: int = 0,
    verbose: int = 0,
) -> dict[str, list[float]]:
    """Train ``model`` for ``epochs`` shuffled epochs; returns each metric per epoch (``{}``
    for no epochs). With ``validation`` data and ``patience``, training stops after that many
    epochs without a lower validation loss, the best epoch's weights restored."""
    if not epochs:
        return {}
    import keras

    callbacks = []
    if validation is not None and patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=patience, restore_best_weights=True
            )
        )
    history = model.fit(
        inputs,
        targets,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation,
        callbacks=callbacks,
        shuffle=True,
        verbose=verbose,
    )
    return {name: [float(v) for v in values] for name, values in history.history.items()}
