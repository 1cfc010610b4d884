# %% [markdown]
# # Exploring the data
#
# The bundled demo data is in the exact layout of the CS5785 competition: descriptions,
# tags, 224x224 images and ResNet feature CSVs for a train part and a test part.
# This notebook loads both parts with `retrieval.data` and looks at what is there.

# %%
from pathlib import Path

import matplotlib.pyplot as plt
from PIL import Image

from retrieval.data import load_competition, train_val_split

ROOT = Path.cwd().parent / "data" / "demo" if Path.cwd().name == "notebooks" else Path("data/demo")

# %% [markdown]
# ## Both parts
#
# In the train part description *i* describes image *i*. In the test part the pairing is
# hidden, as in the competition; the demo ships the answers separately.

# %%
train = load_competition(ROOT, "train")
test = load_competition(ROOT, "test", answers=ROOT / "answers_test.csv")
print(train.summary())
print(test.summary())

# %% [markdown]
# ## A few items
#
# Each image with its caption and its tags.

# %%
fig, axes = plt.subplots(2, 4, figsize=(12, 6.5))
for ax, i in zip(axes.flat, range(8)):
    ax.imshow(Image.open(train.image_paths[i]))
    ax.set_title(train.descriptions[i][0][:40] + "\n" + ", ".join(map(str, train.tags[i])), fontsize=8)
    ax.axis("off")
fig.tight_layout()

# %% [markdown]
# ## Caption lengths and tag frequencies

# %%
summary = train.summary(top_tags=15)
words = [len(s.split()) for d in train.descriptions for s in d]
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
left.hist(words, bins=range(1, max(words) + 2))
left.set_xlabel("words per sentence")
left.set_ylabel("sentences")
names, counts = zip(*summary.top_tags)
right.barh(names[::-1], counts[::-1])
right.set_xlabel("images")
fig.tight_layout()

# %% [markdown]
# ## A held-out split for model selection
#
# The test pairing is hidden, so models are chosen on a deterministic split of the train part.

# %%
fit_part, held_out = train_val_split(train, val_size=0.2, seed=0)
print(len(fit_part), "to fit,", len(held_out), "held out")
assert set(fit_part.ids).isdisjoint(held_out.ids)
