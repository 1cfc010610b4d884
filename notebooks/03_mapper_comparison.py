# %% [markdown]
# # Mappers compared
#
# Text can be matched to images in several ways: the learned Keras network into the
# autoencoder code, or the classical peers (ridge, reverse ridge, CCA) into the
# standardised ResNet features. Each is one `[[mappers]]` table of a config, trained and
# scored through the same code. Here each is trained on the same split of the demo data and
# evaluated on the held-out part. (The full study, with cross-validation, intervals and three
# datasets, is `benchmarks/bench_quality.py`.)

# %%
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

import pandas as pd

from retrieval.config import RunConfig
from retrieval.core import Trainer
from retrieval.data import load_competition, train_val_split
from retrieval.evaluation import evaluate
from retrieval.metrics import MAP, MAP_LINEAR

ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
DEMO = ROOT / "data" / "demo"
fit_part, held_out = train_val_split(load_competition(DEMO, "train"), val_size=0.2, seed=0)

# %%
candidates = {
    "ridge to features (the course's baseline)": [{"kind": "ridge", "space": "features", "params": {"alpha": 10.0}}],
    "reverse ridge": [{"kind": "reverse_ridge", "space": "features", "params": {"alpha": 1000.0}}],
    "CCA": [{"kind": "cca", "space": "features"}],
    "learned network into the code": [{"kind": "neural"}],
}
rows = {}
for name, mappers in candidates.items():
    model = Trainer(RunConfig.from_dict({"mappers": mappers})).fit(fit_part)
    rows[name] = evaluate(model, held_out).metrics
table = pd.DataFrame(rows).T[[MAP, MAP_LINEAR, "R@20", "median rank"]]
table.round(4)

# %%
ax = table[MAP].plot.barh(figsize=(7, 3.5))
ax.set_xlabel(f"{MAP} on a {len(held_out)}-image held-out gallery")
