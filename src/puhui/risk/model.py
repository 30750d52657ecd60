"""The runtime credit scorer: one applicant's features -> PD, score and reason codes.

It reads a versioned artefact written by `puhui model train` (`model.json` plus `scorecard.json` or
`booster.txt`) and evaluates it with NumPy-free plain Python: no scikit-learn, optbinning, LightGBM or
pandas, so it loads in milliseconds inside the web process and one `predict` stays far below the 5 ms
budget of a decision. Everything that does not depend on the row is computed once, at load time.

The probabilities are the training library's own, to rounding: the WOE values of a scorecard are
the ones optbinning's transform produced, and LightGBM trees are walked with LightGBM's own decision
rules (`Tree::NumericalDecision` / `CategoricalDecision`); the raw score then goes through the Platt
calibration fitted on the out-of-fold predictions of training.

Score: 600 points at good:bad odds of 50:1, 20 points to double the odds (PDO 20).
Reason codes: the factors that cost the most points, most adverse first (at most four). For a
scorecard, the points the factor's bin lost against that factor's best bin; for LightGBM, the
factor's path contribution (Saabas: each change of a node's expected value along the decision path
is credited to the node's split feature), converted to points.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any, Protocol

FORMAT_VERSION = 1
MODEL_FILE = "model.json"
SCORECARD_FILE = "scorecard.json"
BOOSTER_FILE = "booster.txt"
MAX_REASONS = 4
# A factor that costs less than half a point cannot change the rounded score: it is not a reason.
MIN_REASON_POINTS = 0.5
# What pandas.read_csv reads as missing by default: training read its CSV with those defaults, so a
# row that arrives as text (a form, an API call) must read the same tokens as missing to score alike.
MISSING_TOKENS = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)

Value = float | int | str | None
Row = Mapping[str, Value]


class ModelKind(StrEnum):
    SCORECARD = "scorecard"
    LIGHTGBM = "lightgbm"


class FeatureType(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class CalibrationMethod(StrEnum):
    PLATT_LOGIT = "platt_logit"  # pd = sigmoid(slope * raw_logit + intercept)


class ModelArtefactError(ValueError):
    """The artefact directory is missing, incomplete, or of a format this code does not read."""


class ModelInputError(ValueError):
    """A row cannot be scored: a feature is absent or a numeric feature holds text."""


@dataclass(frozen=True, slots=True)
class ReasonCode:
    code: str
    feature: str
    text_zh: str
    text_en: str
    impact: float  # score points this factor cost; > 0 always (only adverse factors are reasons)


@dataclass(frozen=True, slots=True)
class Prediction:
    pd: float
    score: int
    reasons: tuple[ReasonCode, ...]


@dataclass(frozen=True, slots=True)
class ScoreScaling:
    """score = offset + factor * ln(good:bad odds); `base_score` at `base_odds`, +`pdo` doubles the odds."""

    base_score: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * math.log(self.base_odds)

    def score_of_logit(self, logit_bad: float) -> float:
        """The unrounded score of a calibrated log-odds of bad (ln(pd / (1 - pd)))."""
        return self.offset - self.factor * logit_bad

    def as_json(self) -> dict[str, float]:
        return {
            "base_score": self.base_score,
            "base_odds": self.base_odds,
            "pdo": self.pdo,
            "factor": self.factor,
            "offset": self.offset,
        }


@dataclass(frozen=True, slots=True)
class Calibration:
    slope: float
    intercept: float
    method: CalibrationMethod = CalibrationMethod.PLATT_LOGIT

    def logit(self, raw: float) -> float:
        return self.slope * raw + self.intercept


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    type: FeatureType
    label_zh: str
    label_en: str


class _ValueState(IntEnum):
    KNOWN = 0
    MISSING = 1
    UNSEEN = 2  # a category training never saw


def sigmoid(z: float) -> float:
    """1 / (1 + e^-z) without overflow for large |z|."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class _Engine(Protocol):
    def evaluate(self, values: Sequence[float | str | None]) -> tuple[float, list[float]]:
        """The raw log-odds of bad and, per feature, how much it raised them (the reason ranking)."""
        ...

    def known_categories(self, index: int) -> frozenset[str]: ...


class CreditModel:
    """A loaded model; thread-safe (it holds no mutable state after loading)."""

    version: str
    kind: str
    features: tuple[str, ...]

    def __init__(
        self,
        metadata: Mapping[str, Any],
        features: Sequence[Feature],
        engine: _Engine,
        calibration: Calibration,
        scaling: ScoreScaling,
    ) -> None:
        self.version = str(metadata["model_version"])
        self.kind = ModelKind(metadata["kind"])
        self.features = tuple(f.name for f in features)
        self.feature_specs = tuple(features)
        self.metadata = metadata
        self.calibration = calibration
        self.scaling = scaling
        self._engine = engine
        self._numeric = tuple(f.type is FeatureType.NUMERIC for f in features)
        self._categories = tuple(engine.known_categories(i) for i in range(len(features)))
        # raising the raw log-odds by r lowers the score by r * factor * slope points
        self._points_per_raw = scaling.factor * calibration.slope

    def predict(self, row: Row) -> Prediction:
        values = self._parse(row)
        raw, raised = self._engine.evaluate(values)
        logit = self.calibration.logit(raw)
        return Prediction(sigmoid(logit), round(self.scaling.score_of_logit(logit)), self._reasons(values, raised))

    def predict_many(self, rows: Sequence[Row]) -> list[Prediction]:
        return [self.predict(row) for row in rows]

    def _parse(self, row: Row) -> list[float | str | None]:
        try:
            raw_values = [row[name] for name in self.features]
        except KeyError:
            absent = [name for name in self.features if name not in row]
            raise ModelInputError(f"the row has no value for: {', '.join(absent)}") from None
        return [
            _as_number(name, v) if numeric else _as_category(v)
            for name, numeric, v in zip(self.features, self._numeric, raw_values, strict=True)
        ]

    def _reasons(self, values: Sequence[float | str | None], raised: Sequence[float]) -> tuple[ReasonCode, ...]:
        scale = self._points_per_raw
        adverse = sorted(
            ((r * scale, i) for i, r in enumerate(raised) if r * scale >= MIN_REASON_POINTS),
            reverse=True,
        )
        return tuple(self._reason(i, points, values[i]) for points, i in adverse[:MAX_REASONS])

    def _reason(self, index: int, points: float, value: float | str | None) -> ReasonCode:
        spec = self.feature_specs[index]
        state = self._state(index, value)
        zh, en = _reason_texts(spec, state, round(points))
        return ReasonCode(f"R-{spec.name}", spec.name, zh, en, points)

    def _state(self, index: int, value: float | str | None) -> _ValueState:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return _ValueState.MISSING
        if isinstance(value, str) and value not in self._categories[index]:
            return _ValueState.UNSEEN
        return _ValueState.KNOWN


def _reason_texts(spec: Feature, state: _ValueState, points: int) -> tuple[str, str]:
    zh_points = f"{points}分" if points >= 1 else "不到1分"
    en_points = f"by {points} point{'s' if points != 1 else ''}" if points >= 1 else "slightly"
    # a sentence starts with a capital, but a bare column name (no label given) is kept as it is
    en = spec.label_en if spec.label_en == spec.name else spec.label_en[:1].upper() + spec.label_en[1:]
    if state is _ValueState.MISSING:
        return (
            f"「{spec.label_zh}」缺失，使评分降低了{zh_points}",
            f"{en} is missing, which lowered the score {en_points}",
        )
    if state is _ValueState.UNSEEN:
        return (
            f"「{spec.label_zh}」的取值在训练数据中未出现，使评分降低了{zh_points}",
            f"{en} has a value not seen in training, which lowered the score {en_points}",
        )
    return f"「{spec.label_zh}」使评分降低了{zh_points}", f"{en} lowered the score {en_points}"


def _as_number(name: str, value: Value) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str):
        text = value.strip()
        if text in MISSING_TOKENS:
            return math.nan
        try:
            return float(text)
        except ValueError:
            raise ModelInputError(f"{name} must be a number, not {value!r}") from None
    return float(value)


def _as_category(value: Value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = value if isinstance(value, str) else str(value)
    return None if text in MISSING_TOKENS else text


# --------------------------------------------------------------------------------------------------
# Scorecard: per feature, the bin of the value -> coefficient x WOE (a term of the raw log-odds).


@dataclass(frozen=True, slots=True)
class _BinnedFeature:
    numeric: bool
    splits: tuple[float, ...]  # numeric: bin i holds splits[i-1] <= x < splits[i] (np.digitize)
    category_bin: Mapping[str, int]  # categorical: category -> bin
    terms: tuple[float, ...]  # per bin, then the missing bin, then the unseen-category bin
    best: float  # the smallest term of a bin training had rows in: the factor's best bin

    @property
    def missing_bin(self) -> int:
        return len(self.terms) - 2

    @property
    def unseen_bin(self) -> int:
        return len(self.terms) - 1

    def bin_of(self, value: float | str | None) -> int:
        if self.numeric:
            assert not isinstance(value, str)
            return self.missing_bin if value is None or math.isnan(value) else bisect_right(self.splits, value)
        if value is None:
            return self.missing_bin
        assert isinstance(value, str)
        return self.category_bin.get(value, self.unseen_bin)


class _ScorecardEngine:
    def __init__(self, intercept: float, features: Sequence[_BinnedFeature]) -> None:
        self._intercept = intercept
        self._features = tuple(features)

    def evaluate(self, values: Sequence[float | str | None]) -> tuple[float, list[float]]:
        raw = self._intercept
        raised = []
        for feature, value in zip(self._features, values, strict=True):
            term = feature.terms[feature.bin_of(value)]
            raw += term
            raised.append(term - feature.best)
        return raw, raised

    def known_categories(self, index: int) -> frozenset[str]:
        return frozenset(self._features[index].category_bin)


def _binned_feature(spec: Feature, doc: Mapping[str, Any]) -> _BinnedFeature:
    coefficient = float(doc["coefficient"])
    bins: list[Mapping[str, Any]] = list(doc["bins"])
    missing: Mapping[str, Any] = doc["missing"]
    unseen: Mapping[str, Any] = doc.get("unseen") or {"woe": 0.0}
    terms = tuple(coefficient * float(b["woe"]) for b in [*bins, missing, unseen])
    seen = [t for t, b in zip(terms, [*bins, missing], strict=False) if int(b.get("count", 1)) > 0]
    category_bin = {str(c): i for i, b in enumerate(bins) for c in b.get("categories") or []}
    return _BinnedFeature(
        numeric=spec.type is FeatureType.NUMERIC,
        splits=tuple(float(s) for s in doc.get("splits") or []),
        category_bin=category_bin,
        terms=terms,
        best=min(seen) if seen else 0.0,
    )


def _scorecard_engine(directory: Path, features: Sequence[Feature]) -> _ScorecardEngine:
    doc = _read_json(directory / SCORECARD_FILE)
    by_name = {str(f["name"]): f for f in doc["features"]}
    absent = [f.name for f in features if f.name not in by_name]
    if absent:
        raise ModelArtefactError(f"{SCORECARD_FILE} has no bins for: {', '.join(absent)}")
    return _ScorecardEngine(float(doc["intercept"]), [_binned_feature(f, by_name[f.name]) for f in features])


# --------------------------------------------------------------------------------------------------
# LightGBM: the trees of `booster.txt`, evaluated with LightGBM's decision rules.

_CATEGORICAL_MASK = 1
_DEFAULT_LEFT_MASK = 2
_ZERO_THRESHOLD = 1e-35  # LightGBM's kZeroThreshold


class _MissingType(IntEnum):
    NONE = 0
    ZERO = 1
    NAN = 2


@dataclass(frozen=True, slots=True)
class _Tree:
    # per internal node: (feature, is_categorical, threshold, default_left, missing_type, bitset,
    #                     left, right, delta_left, delta_right); a child < 0 is the leaf ~child
    nodes: tuple[tuple[int, bool, float, bool, int, tuple[int, ...], int, int, float, float], ...]
    leaves: tuple[float, ...]
    root: float  # the tree's expected value: what it gives before any split is looked at


_Node = tuple[int, bool, float, bool, int, tuple[int, ...], int, int, float, float]


def _go_left(node: _Node, x: float) -> bool:
    _, categorical, threshold, default_left, missing_type, bitset, _, _, _, _ = node
    if categorical:
        # LightGBM: a negative (or NaN: cast to INT_MIN) category goes right; else look it up
        if math.isnan(x) or x < 0:
            return False
        category = int(x)
        word = category >> 5
        return word < len(bitset) and (bitset[word] >> (category & 31)) & 1 == 1
    if math.isnan(x) and missing_type != _MissingType.NAN:
        x = 0.0
    if (missing_type == _MissingType.ZERO and -_ZERO_THRESHOLD <= x <= _ZERO_THRESHOLD) or (
        missing_type == _MissingType.NAN and math.isnan(x)
    ):
        return default_left
    return x <= threshold


class _BoosterEngine:
    def __init__(self, trees: Sequence[_Tree], codes: Sequence[Mapping[str, int] | None]) -> None:
        self._trees = tuple(trees)
        self._codes = tuple(codes)  # categorical feature: category -> LightGBM integer code
        self._compiled = _compile_trees(self._trees, len(self._codes)) or self.walk

    def _encode(self, values: Sequence[float | str | None]) -> list[float]:
        encoded = []
        for codes, value in zip(self._codes, values, strict=True):
            if codes is None:
                assert not isinstance(value, str)
                encoded.append(math.nan if value is None else value)
            else:
                # missing and unseen categories are -1: LightGBM sends negative categories right
                encoded.append(float(codes.get(value, -1)) if isinstance(value, str) else -1.0)
        return encoded

    def evaluate(self, values: Sequence[float | str | None]) -> tuple[float, list[float]]:
        return self._compiled(self._encode(values))

    def walk(self, x: list[float]) -> tuple[float, list[float]]:
        """The trees walked node by node: the reference the compiled function is tested against."""
        raised = [0.0] * len(x)
        raw = 0.0
        for tree in self._trees:
            nodes = tree.nodes
            child = 0 if nodes else -1
            while child >= 0:
                node = nodes[child]
                if _go_left(node, x[node[0]]):
                    child, delta = node[6], node[8]
                else:
                    child, delta = node[7], node[9]
                raised[node[0]] += delta
            raw += tree.leaves[~child]
        return raw, raised

    def known_categories(self, index: int) -> frozenset[str]:
        codes = self._codes[index]
        return frozenset(codes) if codes is not None else frozenset()


_MAX_COMPILED_DEPTH = 80  # Python's parser allows 100 levels of indentation


def _condition(node: _Node, name: str, constant: str) -> str:
    """`_go_left(node, x)` as an expression over the feature's local `name`, inlined for the usual
    numeric splits (NaN compares false, so `x <= t` alone already sends NaN right); the rarer
    categorical and zero-as-missing splits call `_go_left` on the node, passed in as `constant`."""
    _, categorical, threshold, default_left, missing_type, _, _, _, _, _ = node
    if categorical or missing_type == _MissingType.ZERO or not math.isfinite(threshold):
        return f"_go_left({constant}, {name})"
    nan_goes_left = default_left if missing_type == _MissingType.NAN else threshold >= 0.0  # None: NaN is 0.0
    return f"({name} <= {threshold!r} or {name} != {name})" if nan_goes_left else f"{name} <= {threshold!r}"


_Scorer = Callable[[list[float]], tuple[float, list[float]]]


def _compile_trees(trees: Sequence[_Tree], n_features: int) -> _Scorer | None:
    """The trees as ONE generated Python function of the encoded row: nested `if`s with the
    thresholds as constants and each feature's contribution in a local. It does exactly the float
    additions of `walk`, in the same order (so the same raw score and contributions to the bit),
    about five times faster. None if a tree is too deep for Python's parser (then `walk` is used)."""
    if n_features == 0:
        return None
    xs = [f"x{i}" for i in range(n_features)]
    rs = [f"r{i}" for i in range(n_features)]
    lines = ["def _score(x):", f"    ({', '.join(xs)},) = x", f"    raw = 0.0; {' = '.join(rs)} = 0.0"]
    constants: dict[str, object] = {"_go_left": _go_left}

    def emit(t: int, tree: _Tree, child: int, depth: int) -> bool:
        pad = "    " * depth
        if child < 0:
            lines.append(f"{pad}raw += {tree.leaves[~child]!r}")
            return True
        if depth > _MAX_COMPILED_DEPTH:
            return False
        node = tree.nodes[child]
        constant = f"_n{t}_{child}"
        constants[constant] = node
        lines.append(f"{pad}if {_condition(node, xs[node[0]], constant)}:")
        lines.append(f"{pad}    r{node[0]} += {node[8]!r}")
        if not emit(t, tree, node[6], depth + 1):
            return False
        lines.append(f"{pad}else:")
        lines.append(f"{pad}    r{node[0]} += {node[9]!r}")
        return emit(t, tree, node[7], depth + 1)

    for t, tree in enumerate(trees):
        if not emit(t, tree, 0 if tree.nodes else -1, 1):
            return None
    lines.append(f"    return raw, [{', '.join(rs)}]")
    namespace: dict[str, Any] = dict(constants)
    exec(compile("\n".join(lines), "<lightgbm trees>", "exec"), namespace)  # our own generated code
    scorer: _Scorer = namespace["_score"]
    return scorer


def _parse_blocks(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The header's key=value lines and one dict per `Tree=` block (until `end of trees`)."""
    header: dict[str, str] = {}
    trees: list[dict[str, str]] = []
    current = header
    for line in text.splitlines():
        if line.startswith("end of trees"):
            break
        if line.startswith("Tree="):
            current = {}
            trees.append(current)
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key.strip()] = value.strip()
    return header, trees


def _numbers(block: Mapping[str, str], key: str) -> list[float]:
    return [float(v) for v in block.get(key, "").split()]


def _ints(block: Mapping[str, str], key: str) -> list[int]:
    return [int(v) for v in block.get(key, "").split()]


def _parse_tree(block: Mapping[str, str]) -> _Tree:
    leaves = tuple(_numbers(block, "leaf_value"))
    if int(block.get("num_leaves", "1")) <= 1:
        return _Tree((), leaves[:1] or (0.0,), leaves[0] if leaves else 0.0)
    if block.get("is_linear", "0") != "0":
        raise ModelArtefactError("linear trees are not supported")
    features, thresholds = _ints(block, "split_feature"), _numbers(block, "threshold")
    decisions, lefts, rights = _ints(block, "decision_type"), _ints(block, "left_child"), _ints(block, "right_child")
    internal = _numbers(block, "internal_value")
    boundaries, bits = _ints(block, "cat_boundaries"), _ints(block, "cat_threshold")

    def value_of(child: int) -> float:
        return leaves[~child] if child < 0 else internal[child]

    nodes = []
    for i, feature in enumerate(features):
        categorical = decisions[i] & _CATEGORICAL_MASK != 0
        bitset: tuple[int, ...] = ()
        if categorical:
            k = int(thresholds[i])
            bitset = tuple(bits[boundaries[k] : boundaries[k + 1]])
        nodes.append(
            (
                feature,
                categorical,
                thresholds[i],
                decisions[i] & _DEFAULT_LEFT_MASK != 0,
                (decisions[i] >> 2) & 3,
                bitset,
                lefts[i],
                rights[i],
                value_of(lefts[i]) - internal[i],
                value_of(rights[i]) - internal[i],
            )
        )
    return _Tree(tuple(nodes), leaves, internal[0])


def _booster_engine(directory: Path, features: Sequence[Feature], doc: Mapping[str, Any]) -> _BoosterEngine:
    try:
        text = (directory / BOOSTER_FILE).read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelArtefactError(f"cannot read {directory / BOOSTER_FILE}: {exc.strerror}") from None
    header, blocks = _parse_blocks(text)
    if not header.get("objective", "").startswith("binary") or header.get("num_class", "1") != "1":
        raise ModelArtefactError(f"{BOOSTER_FILE} is not a binary LightGBM model")
    if int(header.get("max_feature_idx", "-1")) + 1 != len(features):
        raise ModelArtefactError(
            f"{BOOSTER_FILE} has {header.get('max_feature_idx')} + 1 features, expected {len(features)}"
        )
    codes_doc: Mapping[str, Sequence[str]] = doc.get("category_codes", {})
    codes = [
        {str(c): i for i, c in enumerate(codes_doc.get(f.name, []))} if f.type is FeatureType.CATEGORICAL else None
        for f in features
    ]
    return _BoosterEngine([_parse_tree(b) for b in blocks], codes)


# --------------------------------------------------------------------------------------------------
# Loading.


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelArtefactError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ModelArtefactError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ModelArtefactError(f"{path} does not hold a JSON object")
    return doc


def _features(doc: Mapping[str, Any]) -> list[Feature]:
    labels: Mapping[str, Mapping[str, str]] = doc.get("labels") or {}
    features = []
    for f in doc["features"]:
        name = str(f["name"])
        label = labels.get(name, {})
        features.append(Feature(name, FeatureType(f["type"]), label.get("zh", name), label.get("en", name)))
    return features


def _calibration(doc: Mapping[str, Any]) -> Calibration:
    c = doc["calibration"]
    return Calibration(float(c["slope"]), float(c["intercept"]), CalibrationMethod(c["method"]))


def _scaling(doc: Mapping[str, Any]) -> ScoreScaling:
    s = doc.get("score_scaling") or {}
    return ScoreScaling(float(s.get("base_score", 600.0)), float(s.get("base_odds", 50.0)), float(s.get("pdo", 20.0)))


def load_model(path: Path) -> CreditModel:
    """Load the artefact directory `path` (or its `model.json`)."""
    directory = path.parent if path.name == MODEL_FILE else path
    if not (directory / MODEL_FILE).is_file():
        raise ModelArtefactError(f"{directory} is not a model artefact: it has no {MODEL_FILE}")
    doc = _read_json(directory / MODEL_FILE)
    if doc.get("format_version") != FORMAT_VERSION:
        raise ModelArtefactError(f"model format {doc.get('format_version')!r} is not {FORMAT_VERSION}")
    try:
        features = _features(doc)
        kind = ModelKind(doc["kind"])
        engine: _Engine
        if kind is ModelKind.SCORECARD:
            engine = _scorecard_engine(directory, features)
        else:
            engine = _booster_engine(directory, features, doc)
        return CreditModel(doc, features, engine, _calibration(doc), _scaling(doc))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        if isinstance(exc, ModelArtefactError):
            raise
        raise ModelArtefactError(f"{directory} is not a complete model artefact: {exc!r}") from None
