# %% [markdown]
# # The latent space
#
# Images are searched in the autoencoder's 100-d code. Here we draw the codes in two
# dimensions with their thumbnails, find an image's neighbours, and rank captions for an
# image (retrieval-style captioning).

# %%
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

import matplotlib.pyplot as plt
from matplotlib.offsetbox import AnnotationBbox, OffsetImage
from PIL import Image
from sklearn.decomposition import PCA

from retrieval.config import RunConfig
from retrieval.core import Searcher, Trainer
from retrieval.data import load_competition

ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
DEMO = ROOT / "data" / "demo"
train = load_competition(DEMO, "train")
model = Trainer(RunConfig.from_dict({"mappers": [{"kind": "ridge"}]})).fit(train)
searcher = Searcher(model, model.gallery_from_dataset(train))
codes = searcher.gallery.codes
codes.shape

# %%
xy = PCA(n_components=2, random_state=0).fit_transform(codes)
fig, ax = plt.subplots(figsize=(10, 8))
ax.scatter(xy[:, 0], xy[:, 1], s=2, alpha=0.3)
for i in range(0, len(xy), 6):
    thumb = Image.open(train.image_paths[i])
    thumb.thumbnail((36, 36))
    ax.add_artist(AnnotationBbox(OffsetImage(thumb), xy[i], frameon=False))
ax.set_title("PCA of the 100-d image codes")

# %% [markdown]
# ## Neighbours of an image in code space

# %%
query = 0  # 'A strawberry.'
for hit in searcher.search_code(codes[query], k=6):
    print(f"{hit.score:.3f}  {train.descriptions[hit.index][0]}")

# %% [markdown]
# ## Ranking captions for an image
#
# The reverse direction: which description fits this picture best?

# %%
candidates = [train.texts()[i] for i in range(0, 60, 3)]
for text, score in searcher.rank_texts(codes[3], candidates)[:5]:
    print(f"{score:.3f}  {text}")
print("true caption:", train.texts()[3])
