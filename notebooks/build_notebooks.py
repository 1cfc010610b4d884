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
