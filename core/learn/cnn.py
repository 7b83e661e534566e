"""Small convolutional networks for spectra (CNN1D) and k x k patches (CNN2D), PyTorch on CPU.

torch is the optional ``deep`` extra: it is imported when a network is fitted or loaded, and a
missing torch raises :class:`~remine.core.errors.DependencyError` naming ``pip install 'remine[deep]'``.

Training: bands standardised with the training mean/std; Adam; a stratified (classification) or
random validation split of ``validation_fraction`` drives early stopping (``patience`` epochs
without a lower validation loss; the best weights are kept); ``class_weight="balanced"`` weights
the cross-entropy by inverse class frequency; ``random_state`` seeds torch and the splits.
``n_threads`` (default 1; None: torch's default) sets torch's intra-op threads while fitting: these
small networks gain little from more threads, and on a busy 2-core machine 2 threads were 5.5x
slower than 1 (measured). 3000 spectra x 224 bands, 60 epochs: about 35 s on one core.
Uncertainty: Monte-Carlo dropout (Gal & Ghahramani 2016) — ``mc_samples`` stochastic forward passes
with dropout on; ``predict_std`` gives their standard deviation (regression: of the prediction;
classification: of the probability of the predicted class).

The fitted network is serialised as its ``state_dict`` (numpy arrays) plus the constructor
parameters (``__getstate__``), so :func:`remine.core.learn.save_model` never pickles torch objects.

Architectures (Hu et al. 2015 for 1-D spectral CNNs; 2-D: a 1x1 spectral reduction then 3x3
spatial convolutions): see ``_build``. Reference: Hu et al. (2015) Deep convolutional neural
networks for hyperspectral image classification, J. Sensors 258619; Gal & Ghahramani (2016)
Dropout as a Bayesian approximation, ICML.
"""
import contextlib

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..dependencies import require

_PREDICT_BATCH = 4096


def _torch():
    return require("torch", extra="deep")


def _build(kind, n_bands, n_out, channels, kernel_size, dropout):
    """The torch module: ``kind`` "1d" takes (n, 1, bands), "2d" takes (n, bands, k, k)."""
    torch = _torch()
    nn = torch.nn
    c = channels
    if kind == "1d":
        k = max(1, min(kernel_size, n_bands))
        features = nn.Sequential(
            nn.Conv1d(1, c, k, padding=k // 2), nn.ReLU(), nn.MaxPool1d(2, ceil_mode=True),
            nn.Conv1d(c, 2 * c, k, padding=k // 2), nn.ReLU(), nn.AdaptiveAvgPool1d(8), nn.Flatten())
        width = 2 * c * 8
    else:
        features = nn.Sequential(
            nn.Conv2d(n_bands, c, 1), nn.ReLU(),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        width = 2 * c
    return nn.Sequential(features, nn.Dropout(dropout), nn.Linear(width, 64), nn.ReLU(),
                         nn.Dropout(dropout), nn.Linear(64, n_out))


class _CNNBase(BaseEstimator):
    _kind = "1d"

    def __init__(self, channels=16, kernel_size=7, dropout=0.2, epochs=60, batch_size=64,
                 learning_rate=1e-3, weight_decay=1e-4, validation_fraction=0.15, patience=8,
                 class_weight="balanced", mc_samples=20, random_state=0, n_threads=1):
        self.channels = channels
        self.kernel_size = kernel_size
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.class_weight = class_weight
        self.mc_samples = mc_samples
        self.random_state = random_state
        self.n_threads = n_threads

    # --- data shaping -------------------------------------------------------------------------
    def _check_X(self, X, reset):
        if self._kind == "1d":
            return validate_data(self, X, dtype=np.float32, reset=reset)
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 4 or X.shape[2] != X.shape[3]:
            raise ValueError(f"CNN2D expects patches shaped (n, bands, k, k); got {X.shape}")
        if reset:
            self.n_features_in_ = X.shape[1]
            self.patch_size_ = X.shape[2]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} bands; the network was fitted on {self.n_features_in_}")
        if not np.isfinite(X).all():
            raise ValueError("Input X contains NaN or infinity")
        return X

    def _tensor(self, X):
        torch = _torch()
        Xs = (X - self.x_mean_) / self.x_scale_
        if self._kind == "1d":
            Xs = Xs[:, None, :]
        return torch.from_numpy(np.ascontiguousarray(Xs, dtype=np.float32))

    def _standardise(self, X):
        axes = (0, 2, 3) if self._kind == "2d" else (0,)
        mean = X.mean(axis=axes, keepdims=True)[0]
        scale = X.std(axis=axes, keepdims=True)[0]
        self.x_mean_ = mean.astype(np.float32)
        self.x_scale_ = np.where(scale > 0, scale, 1.0).astype(np.float32)

    # --- training ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _threads(self):
        """torch intra-op threads set to ``n_threads`` inside the block, restored after."""
        torch = _torch()
        old = torch.get_num_threads()
        if self.n_threads:
            torch.set_num_threads(self.n_threads)
        try:
            yield torch
        finally:
            torch.set_num_threads(old)

    def _fit_network(self, X, target, n_out, loss_fn, stratify):
        with self._threads() as torch:
            torch.manual_seed(self.random_state)
            self._standardise(X)
            idx = np.arange(X.shape[0])
            if self.validation_fraction and X.shape[0] >= 10:
                tr, va = train_test_split(idx, test_size=self.validation_fraction,
                                          random_state=self.random_state, stratify=stratify)
            else:
                tr, va = idx, idx[:0]
            xt, yt = self._tensor(X), torch.from_numpy(target)
            self.module_ = _build(self._kind, X.shape[1], n_out, self.channels, self.kernel_size,
                                  self.dropout)
            opt = torch.optim.Adam(self.module_.parameters(), lr=self.learning_rate,
                                   weight_decay=self.weight_decay)
            gen = torch.Generator().manual_seed(self.random_state)
            best, best_state, waited = np.inf, None, 0
            self.loss_curve_, self.validation_curve_ = [], []
            for _ in range(self.epochs):
                self.module_.train()
                order = torch.from_numpy(tr)[torch.randperm(len(tr), generator=gen)]
                total = 0.0
                for start in range(0, len(order), self.batch_size):
                    b = order[start:start + self.batch_size]
                    opt.zero_grad()
                    loss = loss_fn(self.module_(xt[b]), yt[b])
                    loss.backward()
                    opt.step()
                    total += loss.item() * len(b)
                self.loss_curve_.append(total / len(tr))
                if len(va) == 0:
                    continue
                self.module_.eval()
                with torch.no_grad():
                    vloss = float(loss_fn(self.module_(xt[va]), yt[va]))
                self.validation_curve_.append(vloss)
                if vloss < best - 1e-6:
                    best, waited = vloss, 0
                    best_state = {k: v.clone() for k, v in self.module_.state_dict().items()}
                else:
                    waited += 1
                    if waited >= self.patience:
                        break
            if best_state is not None:
                self.module_.load_state_dict(best_state)
            self.n_epochs_ = len(self.loss_curve_)
            self.module_.eval()
        return self

    def _forward(self, X, stochastic=False):
        """Network outputs (n, n_out) as numpy, in batches; dropout on when ``stochastic``."""
        check_is_fitted(self, "module_")
        X = self._check_X(X, reset=False)
        self.module_.train(stochastic)
        outs = []
        with self._threads() as torch, torch.no_grad():
            for start in range(0, X.shape[0], _PREDICT_BATCH):
                outs.append(self._output(self.module_(self._tensor(X[start:start + _PREDICT_BATCH]))))
        self.module_.eval()
        return np.concatenate(outs) if outs else np.zeros((0, self.n_outputs_))

    def _mc_samples(self, X):
        torch = _torch()
        torch.manual_seed(self.random_state)
        return np.stack([self._forward(X, stochastic=True) for _ in range(self.mc_samples)])

    # --- safe state: state_dict as numpy arrays ------------------------------------------------
    def __getstate__(self):
        state = super().__getstate__()
        if "module_" in state:
            weights = {k: v.detach().cpu().numpy() for k, v in self.module_.state_dict().items()}
            state = dict(state, module_=None, state_dict_=weights)
        return state

    def __setstate__(self, state):
        state = dict(state)
        weights = state.pop("state_dict_", None)
        super().__setstate__(state)
        if weights is not None:
            torch = _torch()
            self.module_ = _build(self._kind, self.n_features_in_, self.n_outputs_, self.channels,
                                  self.kernel_size, self.dropout)
            self.module_.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
            self.module_.eval()


class _CNNClassifier(ClassifierMixin, _CNNBase):
    def fit(self, X, y):
        torch = _torch()
        X = self._check_X(X, reset=True)
        y = np.asarray(y)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes; y has only {list(self.classes_)}")
        self.n_outputs_ = len(self.classes_)
        weight = None
        if self.class_weight == "balanced":
            counts = np.bincount(codes, minlength=self.n_outputs_)
            weight = torch.tensor(len(codes) / (self.n_outputs_ * counts), dtype=torch.float32)
        loss = torch.nn.CrossEntropyLoss(weight=weight)
        counts = np.bincount(codes)
        stratify = codes if counts.min() >= 2 and self.validation_fraction else None
        return self._fit_network(X, codes.astype(np.int64), self.n_outputs_, loss, stratify)

    def _output(self, logits):
        return logits.softmax(dim=1).numpy().astype(np.float64)

    def predict_proba(self, X):
        """(n, n_classes) probabilities (dropout off)."""
        return self._forward(X)

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_std(self, X):
        """(n,) MC-dropout standard deviation of the probability of the predicted class."""
        samples = self._mc_samples(X)
        top = np.argmax(samples.mean(axis=0), axis=1)
        return samples[:, np.arange(samples.shape[1]), top].std(axis=0)


class _CNNRegressor(RegressorMixin, _CNNBase):
    def fit(self, X, y):
        torch = _torch()
        X = self._check_X(X, reset=True)
        y = np.asarray(y, dtype=np.float64)
        self.single_target_ = y.ndim == 1
        y2 = y.reshape(len(y), -1)
        self.n_outputs_ = y2.shape[1]
        self.y_mean_ = y2.mean(axis=0)
        self.y_scale_ = np.where(y2.std(axis=0) > 0, y2.std(axis=0), 1.0)
        target = ((y2 - self.y_mean_) / self.y_scale_).astype(np.float32)
        return self._fit_network(X, target, self.n_outputs_, torch.nn.MSELoss(), None)

    def _output(self, out):
        return out.numpy().astype(np.float64) * self.y_scale_ + self.y_mean_

    def predict(self, X):
        out = self._forward(X)
        return out[:, 0] if self.single_target_ else out

    def predict_std(self, X):
        """(n,) MC-dropout standard deviation of the (first) predicted target."""
        return self._mc_samples(X)[:, :, 0].std(axis=0)


class CNN1D(_CNNClassifier):
    """1-D CNN classifier on spectra X (n, bands). Parameters: see module docstring."""

    _kind = "1d"


class CNN2D(_CNNClassifier):
    """2-D CNN classifier on patches X (n, bands, k, k) centred on the labelled pixel."""

    _kind = "2d"


class CNN1DRegressor(_CNNRegressor):
    """1-D CNN regressor on spectra X (n, bands); y (n,) or (n, t)."""

    _kind = "1d"


class CNN2DRegressor(_CNNRegressor):
    """2-D CNN regressor on patches X (n, bands, k, k); y (n,) or (n, t)."""

    _kind = "2d"
