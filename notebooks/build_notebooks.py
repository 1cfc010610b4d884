"""Write the notebooks in this folder from their cell sources (keeps them reviewable as code).

Usage: python notebooks/build_notebooks.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

DATA_EXPLORATION = [
    new_markdown_cell(
        "# Exploring the data\n\n"
        "The bundled demo data is in the exact layout of the CS5785 competition: descriptions, "
        "tags, 224x224 images and ResNet feature CSVs for a train part and a test part. "
        "This notebook loads both parts with `retrieval.data` and looks at what is there."
    ),
    new_code_cell(
        "from pathlib import Path\n\n"
        "import matplotlib.pyplot as plt\n"
        "from PIL import Image\n\n"
        "from retrieval.data import load_competition, train_val_split\n\n"
        "ROOT = Path.cwd().parent / 'data' / 'demo' if Path.cwd().name == 'notebooks' else Path('data/demo')"
    ),
    new_markdown_cell(
        "## Both parts\n\nIn the train part description *i* describes image *i*. In the test part the "
        "pairing is hidden, as in the competition; the demo ships the answers separately."
    ),
    new_code_cell(
        "train = load_competition(ROOT, 'train')\n"
        "test = load_competition(ROOT, 'test', answers=ROOT / 'answers_test.csv')\n"
        "print(train.summary())\nprint(test.summary())"
    ),
    new_markdown_cell("## A few items\n\nEach image with its caption and its tags."),
    new_code_cell(
        "fig, axes = plt.subplots(2, 4, figsize=(12, 6.5))\n"
        "for ax, i in zip(axes.flat, range(8)):\n"
        "    ax.imshow(Image.open(train.image_paths[i]))\n"
        "    ax.set_title(train.descriptions[i][0][:40] + '\\n' + ', '.join(map(str, train.tags[i])), fontsize=8)\n"
        "    ax.axis('off')\n"
        "fig.tight_layout()"
    ),
    new_markdown_cell("## Caption lengths and tag frequencies"),
    new_code_cell(
        "summary = train.summary(top_tags=15)\n"
        "words = [len(s.split()) for d in train.descriptions for s in d]\n"
        "fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))\n"
        "left.hist(words, bins=range(1, max(words) + 2))\n"
        "left.set_xlabel('words per sentence'); left.set_ylabel('sentences')\n"
        "names, counts = zip(*summary.top_tags)\n"
        "right.barh(names[::-1], counts[::-1])\n"
        "right.set_xlabel('images')\n"
        "fig.tight_layout()"
    ),
    new_markdown_cell(
        "## A held-out split for model selection\n\nThe test pairing is hidden, so models are "
        "chosen on a deterministic split of the train part."
    ),
    new_code_cell(
        "fit_part, held_out = train_val_split(train, val_size=0.2, seed=0)\n"
        "print(len(fit_part), 'to fit,', len(held_out), 'held out')\n"
        "assert set(fit_part.ids).isdisjoint(held_out.ids)"
    ),
]


SETUP = new_code_cell(
        "from pathlib import Path\n\n"
        "import warnings\nwarnings.filterwarnings('ignore')\n\n"
        "ROOT = Path.cwd().parent if Path.cwd().name == 'notebooks' else Path.cwd()\n"
        "DEMO = ROOT / 'data' / 'demo'"
    )

TRAIN_AND_EVALUATE = [
    new_markdown_cell(
        "# Train and evaluate a retriever\n\n"
        "A retriever learns a 100-d image code (an autoencoder over ResNet-50 pool5 features), a text "
        "encoder, and a network that maps descriptions into the code. We train one on the demo's train "
        "part, evaluate it on a held-out split and on the test part, and write a submission."
    ),
    SETUP,
    new_code_cell(
        "from retrieval.config import RunConfig\n"
        "from retrieval.data import load_competition, train_val_split\n"
        "from retrieval.evaluation import evaluate, format_metrics\n"
        "from retrieval.pipeline import Retriever\n\n"
        "config = RunConfig.from_toml(ROOT / 'configs' / 'demo.toml')\n"
        "train = load_competition(DEMO, 'train')\n"
        "fit_part, held_out = train_val_split(train, val_size=config.data.val_size, seed=config.data.split_seed)\n"
        "retriever = Retriever(config).fit(fit_part)"
    ),
    new_markdown_cell("## Searching\n\nThe gallery is the training images; scores are cosine similarities in code space."),
    new_code_cell("for hit in retriever.search('a red apple', k=5):\n    print(f'{hit.score:.3f}  {hit.path.name}')"),
    new_markdown_cell("## Held-out and test metrics\n\nBoth MAP@20 forms are reported, with the gallery size."),
    new_code_cell(
        "held = evaluate(retriever, held_out)\n"
        "print(format_metrics(held.metrics, gallery_size=held.gallery_size, title='held-out'))\n"
        "test = load_competition(DEMO, 'test', answers=DEMO / 'answers_test.csv')\n"
        "result = evaluate(retriever, test)\n"
        "print(format_metrics(result.metrics, gallery_size=result.gallery_size, title='test'))\n"
        "assert result.metrics['R@20'] > 20 / len(test)"
    ),
    new_markdown_cell("## A submission file\n\nWritten in the competition's format, validated and scored against the demo's answers."),
    new_code_cell(
        "import tempfile\n"
        "from retrieval.submission import score_submission, validate_submission, write_submission\n\n"
        "ranking = retriever.rank(test.texts(), test, k=20)\n"
        "path = Path(tempfile.mkdtemp()) / 'submission.csv'\n"
        "write_submission(path, test.description_ids, [[test.ids[j] for j in row] for row in ranking])\n"
        "validate_submission(path, description_ids=test.description_ids, image_ids=test.ids)\n"
        "print(score_submission(path, DEMO / 'answers_test.csv'))"
    ),
]

LOSS_COMPARISON = [
    new_markdown_cell(
        "# Losses and text encoders compared\n\n"
        "The mapping from text to the image code can be trained with an RMSE, a triplet or a "
        "contrastive loss, on TF-IDF or GloVe features. We train each on the same split and compare "
        "them with the course's TF-IDF -> ridge baseline. (The full study, with tags and word2vec, is "
        "`benchmarks/bench_quality.py`.)"
    ),
    SETUP,
    new_code_cell(
        "import numpy as np\n"
        "import pandas as pd\n\n"
        "from retrieval.config import RunConfig\n"
        "from retrieval.data import load_competition, train_val_split\n"
        "from retrieval.evaluation import evaluate\n"
        "from retrieval.metrics import ranks_from_scores, retrieval_report\n"
        "from retrieval.models.baselines import tfidf_ridge\n"
        "from retrieval.pipeline import Retriever\n\n"
        "fit_part, held_out = train_val_split(load_competition(DEMO, 'train'), val_size=0.2, seed=0)"
    ),
    new_code_cell(
        "def unit(x):\n    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)\n\n"
        "ridge = tfidf_ridge().fit(fit_part.texts(), fit_part.pool5)\n"
        "ridge_ranks = ranks_from_scores(unit(ridge.predict(held_out.texts())) @ unit(held_out.pool5).T,\n"
        "                                np.arange(len(held_out)))\n"
        "rows = {'tfidf -> ridge (baseline)': retrieval_report(ridge_ranks)}\n"
        "for encoder in ['tfidf', 'glove']:\n"
        "    for loss in ['rmse', 'triplet', 'contrastive']:\n"
        "        config = RunConfig.from_dict({'text': {'encoders': [encoder]},\n"
        "                                      'regressor': {'loss': loss, 'epochs': 30},\n"
        "                                      'image': {'epochs': 20}})\n"
        "        rows[f'{encoder} -> {loss}'] = evaluate(Retriever(config).fit(fit_part), held_out).metrics\n"
        "table = pd.DataFrame(rows).T[['MAP@20 (1/r, Kaggle)', 'MAP@20 (linear, (20+1-r)/20)', 'R@20', 'median rank']]\n"
        "table.round(4)"
    ),
    new_code_cell(
        "ax = table['MAP@20 (1/r, Kaggle)'].plot.barh(figsize=(7, 3.5))\n"
        "ax.set_xlabel(f'MAP@20 (1/r) on a {len(held_out)}-image held-out gallery')"
    ),
]

LATENT_SPACE = [
    new_markdown_cell(
        "# The latent space\n\nImages are searched in the autoencoder's 100-d code. Here we draw the "
        "codes in two dimensions with their thumbnails, find an image's neighbours, and rank captions "
        "for an image (retrieval-style captioning)."
    ),
    SETUP,
    new_code_cell(
        "import matplotlib.pyplot as plt\n"
        "from matplotlib.offsetbox import AnnotationBbox, OffsetImage\n"
        "from PIL import Image\n"
        "from sklearn.decomposition import PCA\n\n"
        "from retrieval.config import RunConfig\n"
        "from retrieval.data import load_competition\n"
        "from retrieval.pipeline import Retriever\n\n"
        "train = load_competition(DEMO, 'train')\n"
        "config = RunConfig.from_dict({'text': {'encoders': ['tfidf']}, 'tags': {'enabled': True}})\n"
        "retriever = Retriever(config).fit(train)\n"
        "codes = retriever.gallery_.codes\n"
        "codes.shape"
    ),
    new_code_cell(
        "xy = PCA(n_components=2, random_state=0).fit_transform(codes)\n"
        "fig, ax = plt.subplots(figsize=(10, 8))\n"
        "ax.scatter(xy[:, 0], xy[:, 1], s=2, alpha=0.3)\n"
        "for i in range(0, len(xy), 6):\n"
        "    thumb = Image.open(train.image_paths[i]); thumb.thumbnail((36, 36))\n"
        "    ax.add_artist(AnnotationBbox(OffsetImage(thumb), xy[i], frameon=False))\n"
        "ax.set_title('PCA of the 100-d image codes')"
    ),
    new_markdown_cell("## Neighbours of an image in code space"),
    new_code_cell(
        "query = 0  # 'A strawberry.'\n"
        "for hit in retriever.search_code(codes[query], k=6):\n"
        "    print(f'{hit.score:.3f}  {train.descriptions[hit.index][0]}')"
    ),
    new_markdown_cell("## Ranking captions for an image\n\nThe reverse direction: which description fits this picture best?"),
    new_code_cell(
        "candidates = [train.texts()[i] for i in range(0, 60, 3)]\n"
        "for text, score in retriever.rank_texts(codes[3], candidates)[:5]:\n"
        "    print(f'{score:.3f}  {text}')\n"
        "print('true caption:', train.texts()[3])"
    ),
]


def write(name: str, cells: list) -> None:
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, HERE / name)


if __name__ == "__main__":
    write("01_data_exploration.ipynb", DATA_EXPLORATION)
    write("02_train_and_evaluate.ipynb", TRAIN_AND_EVALUATE)
    write("03_loss_and_encoder_comparison.ipynb", LOSS_COMPARISON)
    write("04_latent_space.ipynb", LATENT_SPACE)
