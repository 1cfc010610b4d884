# %% [markdown]
# # Train and evaluate
#
# A model learns an image side (the pictures' features, standardised, and a 100-d
# autoencoder code for example-image queries), a text encoder (TF-IDF and GloVe), and mappers
# that match descriptions to images. The default's one mapper is a regularised CCA between
# the texts and the standardised features, refined by a Keras network with a contrastive
# loss; tag agreement and the ImageNet concept bridge are fused with it, with weights chosen
# on held-out training items. We train it on the demo's EfficientNet-Lite0 features
# (`configs/demo.toml`, what `retrieval demo` trains), evaluate it on a held-out split and on
# the test part, and write a submission: the same steps `retrieval demo` runs, through
# `retrieval.workflows`.

# %%
import tempfile
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

from retrieval.config import RunConfig
from retrieval.core import Searcher
from retrieval.data import load_competition
from retrieval.evaluation import evaluate, format_metrics
from retrieval.workflows import make_submission, train

ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
DEMO = ROOT / "data" / "demo"
OUT = Path(tempfile.mkdtemp())

# %% [markdown]
# ## Training
#
# `train` holds out 20% of the train part (seeded), fits every part the config describes,
# saves the bundle and evaluates on the held-out split.

# %%
result = train(RunConfig.from_toml(ROOT / "configs" / "demo.toml"), root=DEMO, out=OUT, verbose=False)
model = result.model
print([m.mapper.kind for m in model.members], result.files["bundle"])

# %% [markdown]
# ## Searching
#
# The default gallery is the training images.

# %%
searcher = Searcher(model, result.gallery)
for hit in searcher.search("a red apple", k=5):
    print(f"{hit.score:.3f}  {hit.path.name}")

# %% [markdown]
# ## Held-out and test metrics
#
# Both MAP@20 forms are reported, with the gallery size.

# %%
held = result.evaluation
print(format_metrics(held.metrics, gallery_size=held.gallery_size, title="held-out"))
test = load_competition(DEMO, "test", answers=DEMO / "answers_test.csv")
on_test = evaluate(model, test)
print(format_metrics(on_test.metrics, gallery_size=on_test.gallery_size, title="test"))
assert on_test.metrics["R@20"] > 20 / len(test)

# %% [markdown]
# ## A submission file
#
# Written in the competition's format, validated and scored against the demo's answers.

# %%
submission = make_submission(model, test, OUT / "submission.csv", answers=DEMO / "answers_test.csv")
print(submission.score)
