"""Datasets: the competition layout, captions tables, held-out splits.

Examples
--------
>>> from retrieval.data import load_competition, train_val_split   # doctest: +SKIP
>>> train = load_competition("data/demo", "train")                  # doctest: +SKIP
>>> fit_part, val_part = train_val_split(train, val_size=0.2, seed=0)  # doctest: +SKIP
"""

from retrieval.data._captions import load_captions_table
from retrieval.data._competition import (
    FEATURE_FILES,
    RESNET50_DIMS,
    SHIPPED_FEATURES,
    feature_csv_path,
    feature_record_path,
    load_competition,
    read_answers,
    read_feature_record,
    relevant_from_answers,
    write_answers,
)
from retrieval.data._dataset import Dataset, DatasetSummary, Tag
from retrieval.data._feature_csv import image_id_from_path, read_feature_csv, write_feature_csv
from retrieval.data._kinds import LITE_KINDS
from retrieval.data._split import train_val_split
from retrieval.data._submission import (
    HEADER as SUBMISSION_HEADER,
)
from retrieval.data._submission import (
    SubmissionCheck,
    SubmissionScore,
    check_submission,
    score_submission,
    validate_submission,
    write_submission,
)
from retrieval.data._synthetic import make_synthetic_competition

__all__ = [
    "FEATURE_FILES",
    "LITE_KINDS",
    "RESNET50_DIMS",
    "SHIPPED_FEATURES",
    "Dataset",
    "SUBMISSION_HEADER",
    "SubmissionCheck",
    "SubmissionScore",
    "DatasetSummary",
    "Tag",
    "check_submission",
    "feature_csv_path",
    "feature_record_path",
    "image_id_from_path",
    "load_captions_table",
    "load_competition",
    "make_synthetic_competition",
    "read_answers",
    "read_feature_record",
    "relevant_from_answers",
    "score_submission",
    "read_feature_csv",
    "train_val_split",
    "validate_submission",
    "write_answers",
    "write_feature_csv",
    "write_submission",
]
