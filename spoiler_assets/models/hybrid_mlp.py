"""A small PyTorch network on [Feast features + sentence embedding].

Missing values: each feature that can be missing (movie, user and context features)
is imputed with its training median and gets a 0/1 missing indicator, so "unknown
user" is an input the network can use rather than a silent fake value. Features are
then standardised with training statistics; the embedding is already unit-length.
Imbalance: `BCEWithLogitsLoss(pos_weight = negatives / positives)`. Early stopping on
validation PR-AUC; the decision threshold maximises F1 on validation. Seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field
from sklearn.metrics import average_precision_score
from torch import nn

from spoiler_assets.features.schema import MODEL_FEATURES, TEXT_FEATURES
from spoiler_assets.models.hybrid import HybridInputs, HybridPredictions, HybridSplit
from spoiler_assets.models.hybrid_xgboost import positive_weight
from spoiler_assets.models.metrics import tune_threshold
from spoiler_assets.seed import SEED

# Text statistics are computed from the review itself and are never missing.
MAY_BE_MISSING: tuple[str, ...] = tuple(f for f in MODEL_FEATURES if f not in TEXT_FEATURES)


class MLPParams(BaseModel):
    """Hyper-parameters of the MLP; `MLPConfig` (its run config) inherits them."""

    model_config = ConfigDict(frozen=True)

    hidden: tuple[int, ...] = Field(default=(256, 64), description="Hidden layer widths")
    dropout: float = Field(default=0.2, description="Dropout after each hidden layer")
    learning_rate: float = Field(default=1e-3, description="AdamW learning rate")
    weight_decay: float = Field(default=1e-4, description="AdamW weight decay")
    batch_size: int = Field(default=256, description="Reviews per optimiser step")
    max_epochs: int = Field(default=40, description="Most epochs (early stopping on valid PR-AUC)")
    patience: int = Field(default=5, description="Epochs without a better validation PR-AUC before stopping")
    seed: int = Field(default=SEED, description="Random seed")


@dataclass
class TabularPreprocessor:
    """Median imputation + missing indicators + standardisation, fitted on training rows."""

    medians: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    indicator_columns: tuple[str, ...] = MAY_BE_MISSING

    @classmethod
    def fit(cls, features: pd.DataFrame) -> TabularPreprocessor:
        values = features[list(MODEL_FEATURES)].to_numpy(np.float64)
        medians = (
            np.nan_to_num(np.nanmedian(values, axis=0), nan=0.0) if len(values) else np.zeros(values.shape[1])
        )
        imputed = np.where(np.isnan(values), medians, values)
        std = imputed.std(axis=0)
        return cls(medians=medians, mean=imputed.mean(axis=0), std=np.where(std > 0, std, 1.0))

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        values = features[list(MODEL_FEATURES)].to_numpy(np.float64)
        scaled = (np.where(np.isnan(values), self.medians, values) - self.mean) / self.std
        indicators = features[list(self.indicator_columns)].isna().to_numpy(np.float64)
        return np.hstack([scaled, indicators]).astype(np.float32)


def build_network(input_dim: int, params: MLPParams) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = input_dim
    for hidden in params.hidden:
        layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(params.dropout)]
        width = hidden
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


@dataclass
class MLPSpoilerModel(HybridPredictions):
    """A trained network, its preprocessing, where its inputs come from, its threshold."""

    network: nn.Sequential
    preprocessor: TabularPreprocessor
    inputs: HybridInputs
    threshold: float
    name: str = "hybrid_mlp"

    def matrix(self, features: pd.DataFrame, embeddings: np.ndarray) -> torch.Tensor:
        tabular = self.preprocessor.transform(features)
        return torch.from_numpy(np.hstack([tabular, embeddings.astype(np.float32)]))

    def score_inputs(self, features: pd.DataFrame, embeddings: np.ndarray) -> np.ndarray:
        self.network.eval()
        with torch.inference_mode():
            logits = self.network(self.matrix(features, embeddings)).squeeze(1)
        return torch.sigmoid(logits).double().numpy()


def train_mlp(
    train: HybridSplit, valid: HybridSplit, inputs: HybridInputs, params: MLPParams
) -> MLPSpoilerModel:
    torch.manual_seed(params.seed)
    generator = torch.Generator().manual_seed(params.seed)
    preprocessor = TabularPreprocessor.fit(train.features)
    model = MLPSpoilerModel(network=nn.Sequential(), preprocessor=preprocessor, inputs=inputs, threshold=0.5)
    x_train = model.matrix(train.features, train.embeddings)
    y_train = torch.from_numpy(train.labels.astype(np.float32))
    model.network = build_network(x_train.shape[1], params)
    optimizer = torch.optim.AdamW(
        model.network.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay
    )
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(positive_weight(train.labels)))
    best_score, best_state, stale = -1.0, None, 0
    for _ in range(params.max_epochs):
        model.network.train()
        for batch in torch.randperm(len(x_train), generator=generator).split(params.batch_size):
            optimizer.zero_grad()
            loss = loss_fn(model.network(x_train[batch]).squeeze(1), y_train[batch])
            loss.backward()
            optimizer.step()
        score = float(
            average_precision_score(valid.labels, model.score_inputs(valid.features, valid.embeddings))
        )
        if score > best_score:
            best_score, stale = score, 0
            best_state = {k: v.clone() for k, v in model.network.state_dict().items()}
        else:
            stale += 1
            if stale >= params.patience:
                break
    if best_state is not None:
        model.network.load_state_dict(best_state)
    model.threshold = tune_threshold(valid.labels, model.score_inputs(valid.features, valid.embeddings))
    return model
