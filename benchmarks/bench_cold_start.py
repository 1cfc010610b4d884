"""Cold start as a user meets it: whole processes, each started fresh, timed from outside.

Rows (seconds, the median of --rounds interleaved rounds):

- ``retrieval features PICTURES --out f.npy --no-cache`` on the first --count demo pictures,
  ResNet-50 with random weights (``--weights none``) and EfficientNet-Lite0 (ImageNet);
- the same work as a plain Keras script: build the network, load each picture with PIL,
  ``model.predict`` (ResNet-50 ``keras.applications``; Lite0 the package's Keras model);
- ``retrieval search --image`` and a text query with the demo bundle (``--bundle``, default
  ``runs/demo/bundle``, made by ``retrieval demo``).

``python benchmarks/bench_cold_start.py --count 256``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"
RETRIEVAL = [str(Path(sys.executable).with_name("retrieval"))]  # the installed command

PLAIN_RESNET = """
import sys, numpy as np
from PIL import Image
import keras
from keras.applications.resnet50 import ResNet50, preprocess_input
paths = sys.argv[2:]
model = ResNet50(include_top=False, weights=None, pooling="avg")
pixels = np.stack([np.asarray(Image.open(p).convert("RGB").resize((224, 224), Image.BILINEAR)) for p in paths])
np.save(sys.argv[1], model.predict(preprocess_input(pixels.astype("float32")), batch_size=32, verbose=0))
"""

PLAIN_LITE = """
import sys, numpy as np
from PIL import Image
from retrieval.features.efficientnet_lite import EfficientNetLiteFeatures
paths = sys.argv[2:]
model = EfficientNetLiteFeatures("efficientnet_lite0").network
pixels = np.stack([np.asarray(Image.open(p).convert("RGB").resize((224, 224), Image.BILINEAR)) for p in paths])
np.save(sys.argv[1], model.predict(pixels, batch_size=32, verbose=0)[0])
"""


def timed(command: list[str]) -> float:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command[:3])} ... failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=256, help="pictures to extract")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians shown")
    parser.add_argument("--bundle", type=Path, default=REPO / "runs" / "demo" / "bundle")
    args = parser.parse_args()
    paths = sorted((DEMO / "images_train").glob("*.jpg"), key=lambda p: int(p.stem))[: args.count]
    names = [str(p) for p in paths]
    scratch = Path(tempfile.mkdtemp())
    out = str(scratch / "f.npy")
    commands = {
        f"retrieval features, ResNet-50 random, {len(paths)} pictures": [
            *RETRIEVAL,
            "features",
            *names,
            "--out",
            out,
            "--no-cache",
            "--weights",
            "none",
        ],
        f"plain Keras ResNet-50 script, {len(paths)} pictures": [
            sys.executable,
            "-c",
            PLAIN_RESNET,
            out,
            *names,
        ],
        f"retrieval features, EfficientNet-Lite0, {len(paths)} pictures": [
            *RETRIEVAL,
            "features",
            *names,
            "--out",
            out,
            "--no-cache",
            "--model",
            "efficientnet_lite0",
        ],
        f"plain Keras EfficientNet-Lite0 script, {len(paths)} pictures": [
            sys.executable,
            "-c",
            PLAIN_LITE,
            out,
            *names,
        ],
    }
    if args.bundle.is_dir():
        commands["retrieval search --image (demo bundle)"] = [
            *RETRIEVAL,
            "search",
            "--image",
            names[0],
            "--bundle",
            str(args.bundle),
            "--k",
            "5",
        ]
        commands["retrieval search TEXT (demo bundle)"] = [
            *RETRIEVAL,
            "search",
            "a red apple",
            "--bundle",
            str(args.bundle),
            "--k",
            "5",
        ]
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, command in commands.items():
            times[name].append(timed(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"\n{os.cpu_count()} CPU cores; median of {args.rounds} rounds, whole cold processes\n")
    print("| what | seconds |")
    print("| --- | ---: |")
    for name, value in medians.items():
        print(f"| {name} | {value:.1f} |")
    names = list(medians)
    print(f"\nplain Keras / retrieval, ResNet-50: {medians[names[1]] / medians[names[0]]:.2f}x")
    print(
        f"plain Keras / retrieval, EfficientNet-Lite0: {medians[names[3]] / medians[names[2]]:.2f}x"
    )


if __name__ == "__main__":
    main()
