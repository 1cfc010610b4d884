"""The one Keras training call the networks share: shuffled epochs, optional validation data and
callbacks, and the history as plain floats (JSON-ready)."""

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
    callbacks: list | None = None,
    verbose: int = 0,
) -> dict[str, list[float]]:
    """Train ``model`` for ``epochs`` shuffled epochs; returns each metric per epoch
    (``{}`` for no epochs)."""
    if not epochs:
        return {}
    history = model.fit(
        inputs,
        targets,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation,
        callbacks=callbacks or [],
        shuffle=True,
        verbose=verbose,
    )
    return {name: [float(v) for v in values] for name, values in history.history.items()}
