"""Hybrid kriging + 1D CNN-BiLSTM (after Anvari et al. 2025) without its leak.

``HybridKrigingRegressor(model).fit(coords, values, covariates).predict(targets, covariates, return_std=True)``

Inputs at every location ``x`` (a training sample or a target, built the same way):

* a sequence of its ``n_neighbors`` nearest samples, nearest first, one step per neighbour: the neighbour's
  value (standardised), its offset ``dx, dy[, dz]`` and distance (divided by the median distance to the
  k-th neighbour), the variogram covariance to ``x`` (divided by the sill) and the neighbour's covariates;
* static inputs: the ordinary-kriging (OK) estimate and standard deviation at ``x``, the paper's average
  covariance (mean covariance between ``x`` and the neighbours), the coordinates, the covariates at ``x`` and
  their innovations: each covariate minus its OK estimate from the samples' covariates with the same weights
  as the OK estimate of the values (for a grade linear in the covariates, the OK residual is linear in them).

No leakage: at a training sample the neighbours and the OK estimate leave the sample itself out
(leave-one-out), exactly as a target is never among its own samples; the sample's value is only the target.
The authors' notebook instead fed the observed value as an input and split at random, which measures
leakage, not interpolation.

The network predicts the OK residual ``z − ẑ_OK`` (``target="residual"``, default) or the value. The default
is the residual: the network then only corrects kriging and, with its zero-initialised output layer, falls back
to it where it learns nothing; in our validation it was better against the demo truth (Zn) and on the synthetic
covariate case, the value only in one spatial cross-validation (demo Zn) (see benchmarks/NOTES.md).

Ensemble and uncertainty: member ``m`` is trained with seed ``random_state + m`` on all samples but one of
``n_folds`` random folds (fold ``m mod n_folds``), which drives its early stopping; every sample held out by
some member gets an out-of-fold residual. The predictive standard deviation is
``s · sqrt(σ²_OK + σ²_ens)`` (OK variance plus the variance between members), with the scale ``s`` chosen so
that the nominal ``coverage`` (90 %) interval ``± z σ`` covers that fraction of the out-of-fold residuals.

PyTorch (CPU) is the ``deep`` extra; without it ``fit`` raises DependencyError naming
``pip install 'remine[deep]'``.

Reference: Anvari, K., Benndorf, J., Gerber, ... (2025), Scientific Reports 15, 35004.
"""
import contextlib
import os
import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from ..errors import InputError, RemineWarning
from ..progress import as_progress
from ._hybridnet import (
    ANVARI_SETTINGS,
    build_network,
    forward,
    torch_module,
    train_member,
)
from ._inputs import as_coords, prepare_points
from .covariates import CovariateEncoder, check_complete
from .cv import _loo
from .fit import auto_model
from .kriging import OrdinaryKriging
from .models import VariogramModel

TARGETS = ("residual", "value")
_CHUNK = 32768  # targets whose inputs are built at once (about 100 MB with 16 neighbours and 9 covariates)


def resolve_model(variogram_model, coords, values):
    """A VariogramModel as given, or the named model (e.g. "spherical") fitted to ``values`` at ``coords``."""
    if isinstance(variogram_model, VariogramModel):
        return variogram_model
    if isinstance(variogram_model, str):
        return auto_model(coords, values, model=variogram_model)
    raise InputError(f"variogram_model {variogram_model!r} is neither a VariogramModel nor a model name "
                     "('spherical', 'exponential', 'gaussian', 'matern')")


class HybridKrigingRegressor(RegressorMixin, BaseEstimator):
    """Ordinary kriging corrected by an ensemble of 1D CNN-BiLSTM networks on leave-one-out neighbour sequences.

    Parameters
    ----------
    variogram_model : VariogramModel | str – the variogram of the values, or a model name fitted to the
        training values.
    n_neighbors : int – neighbours in each sequence (default 16).
    target : "residual" (network predicts z − OK estimate) | "value".
    architecture : "cnn-bilstm" | "anvari2025" (the paper's network and training settings).
    n_ensemble : int – members (seeds); n_folds : int – folds of the out-of-fold residuals.
    max_epochs, patience, batch_size, learning_rate, weight_decay : training of each member (Adam, MSE; the
        learning rate halves after 10 epochs without a lower validation loss).
    hidden : int – convolution channels and LSTM units. dropout : float.
    kriging_neighbors : int – neighbours of the OK estimate (default 32).
    categorical : list of int | str – covariate columns to one-hot encode (DataFrame columns that are not
        numeric are categorical anyway).
    coverage : float – nominal coverage of the calibrated interval (default 0.9).
    random_state : int – same value, same predictions. n_threads : int – torch threads while training (default
        1) and members predicted side by side (default: up to 4).

    Attributes (after fit): ``model_`` (VariogramModel), ``kriger_`` (fitted OrdinaryKriging), ``members_``
    (torch modules), ``histories_`` (loss curves per member), ``oof_`` (out-of-fold predictions, NaN where no
    member held the sample out), ``std_scale_``, ``oof_coverage_``, ``training_inputs_`` (raw ``sequence``
    (n, k, f), ``static`` (n, s) and ``target`` (n,) before standardisation), ``input_info_``.
    """

    def __init__(self, variogram_model="spherical", n_neighbors=16, target="residual", architecture="cnn-bilstm",
                 n_ensemble=5, max_epochs=300, random_state=0, n_folds=5, patience=30, batch_size=32,
                 learning_rate=5e-3, weight_decay=1e-2, hidden=16, dropout=0.1, kriging_neighbors=32,
                 categorical=None, coverage=0.9, n_threads=None):
        self.variogram_model = variogram_model
        self.n_neighbors = n_neighbors
        self.target = target
        self.architecture = architecture
        self.n_ensemble = n_ensemble
        self.max_epochs = max_epochs
        self.random_state = random_state
        self.n_folds = n_folds
        self.patience = patience
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.hidden = hidden
        self.dropout = dropout
        self.kriging_neighbors = kriging_neighbors
        self.categorical = categorical
        self.coverage = coverage
        self.n_threads = n_threads

    # --- inputs ---------------------------------------------------------------------------------------------
    def _check_params(self, n):
        if self.target not in TARGETS:
            raise InputError(f"target '{self.target}' unknown; expected one of {TARGETS}")
        if self.architecture not in ("cnn-bilstm", "anvari2025"):
            raise InputError(f"architecture '{self.architecture}' unknown; expected 'cnn-bilstm' or 'anvari2025'")
        k = int(self.n_neighbors)
        if k < 1 or n < k + 2:
            raise InputError(f"{n} valid points for n_neighbors={self.n_neighbors}; expected at least "
                             f"n_neighbors + 2 = {k + 2} points (each sample's sequence leaves the sample out)")
        if int(self.n_ensemble) < 1 or not 2 <= int(self.n_folds) <= n:
            raise InputError(f"n_ensemble={self.n_ensemble}, n_folds={self.n_folds} for {n} points; expected "
                             f"n_ensemble >= 1 and 2 <= n_folds <= {n}")
        if not 0 < float(self.coverage) < 1:
            raise InputError(f"coverage {self.coverage} must lie in (0, 1), e.g. 0.9")

    def _raw_inputs(self, T, cov, exclude_self):
        """Raw sequence (m, k, f) and static (m, s) inputs at targets ``T`` (m, d); float64.

        ``exclude_self``: T are the training samples themselves (row i leaves sample i out everywhere)."""
        k = int(self.n_neighbors)
        if exclude_self:
            dist, idx = self.tree_.query(T, k=k + 1)
            own = idx == np.arange(len(T))[:, None]
            keep = ~own
            keep[~own.any(axis=1), -1] = False  # sample not among its k+1 nearest (never after merging)
            dist = dist[keep].reshape(len(T), k)
            idx = idx[keep].reshape(len(T), k)
            est, var = self._loo_ok
        else:
            dist, idx = self.tree_.query(T, k=k, workers=-1)
            dist, idx = dist.reshape(len(T), k), idx.reshape(len(T), k)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RemineWarning)
                est, var = self.kriger_.predict(T)
        model = self.model_
        sill = self.kriger_.A_
        cov_nb = (sill - model.gamma(dist)) / sill
        offs = (self.coords_[idx] - T[:, None, :]) / self.length_
        parts = [self.values_[idx][..., None], offs, (dist / self.length_)[..., None], cov_nb[..., None]]
        if self.cov_.shape[1]:
            parts.append(self.cov_[idx])
        seq = np.concatenate(parts, axis=2)
        static = [est[:, None], np.sqrt(np.maximum(var, 0.0))[:, None], cov_nb.mean(axis=1)[:, None], T]
        if cov is not None and cov.shape[1]:
            static += [cov, cov - self._kriged_covariates(T, exclude_self)]
        return seq, np.concatenate(static, axis=1), est, var

    def _kriged_covariates(self, T, exclude_self):
        """(m, q) OK estimates of the covariates from the samples' covariates, with the weights of the OK estimate
        of the values (same model and neighbours; leave-one-out at the samples)."""
        out = np.empty((len(T), self.cov_.shape[1]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RemineWarning)
            for j in range(self.cov_.shape[1]):
                kr = OrdinaryKriging(self.model_, n_neighbors=self.kriging_neighbors).fit(self.coords_,
                                                                                         self.cov_[:, j])
                out[:, j] = _loo(kr)[0] if exclude_self else kr.predict(T, return_variance=False)
        return out

    def _encode(self, covariates, n, ids=None, what="points"):
        if covariates is None:
            if self.encoder_ is not None:
                raise InputError(f"the model was fitted with {self.encoder_.n_input_} covariates; give them at the "
                                 "targets too")
            return None
        if self.encoder_ is None:
            raise InputError("covariates given at the targets but the model was fitted without covariates")
        x = self.encoder_.transform(covariates, n)
        if what == "points":
            check_complete(x, what, ids)
        return x

    def _standardised(self, seq, static):
        s = ((seq - self.seq_mean_) / self.seq_scale_).astype(np.float32)
        t = ((static - self.static_mean_) / self.static_scale_).astype(np.float32)
        return np.nan_to_num(s), np.nan_to_num(t)

    @contextlib.contextmanager
    def _threads(self, predicting=False):
        """torch intra-op threads inside the block, restored after: ``n_threads`` (default 1) while training
        (small batches: more threads only add overhead); 1 while predicting, where the members run side by side
        in ``n_threads`` (default: up to 4) Python threads instead."""
        torch = torch_module()
        old = torch.get_num_threads()
        torch.set_num_threads(1 if predicting else int(self.n_threads or 1))
        try:
            yield torch
        finally:
            torch.set_num_threads(old)

    def _settings(self):
        s = {"learning_rate": self.learning_rate, "batch_size": self.batch_size, "max_epochs": self.max_epochs,
             "patience": self.patience, "weight_decay": self.weight_decay}
        if self.architecture == "anvari2025":
            s.update(ANVARI_SETTINGS, max_epochs=min(int(self.max_epochs), ANVARI_SETTINGS["max_epochs"]),
                     weight_decay=0.0)
        return s

    # --- fit / predict ----------------------------------------------------------------------------------------
    def fit(self, coords, values, covariates=None, progress=None):
        """Fit OK, build the leave-one-out inputs, train the ensemble and calibrate its standard deviation.

        Parameters
        ----------
        coords : ndarray (n, 2|3) – projected coordinates (metres). values : ndarray (n,); NaN values are
            dropped (counted in ``input_info_``, with a RemineWarning); duplicate locations are averaged.
        covariates : ndarray (n, p) | DataFrame, optional – values known at the samples and at every target
            (abundance maps, class probabilities, elevation); categorical columns are one-hot encoded.
        progress : Progress, optional – reported per epoch; Cancel stops within an epoch (CancelledError).
        """
        from scipy.spatial import cKDTree

        progress = as_progress(progress)
        torch = torch_module()
        c = as_coords(coords)
        v = np.asarray(values, dtype=float).ravel()
        if len(v) != len(c):
            raise InputError(f"{len(c)} coordinates but {len(v)} values; expected one value per point")
        finite = np.isfinite(v)
        self.encoder_ = None
        cov = None
        if covariates is not None:
            self.encoder_ = CovariateEncoder(self.categorical).fit(_rows(covariates, finite), int(finite.sum()))
            cov = self.encoder_.transform(covariates, len(v))
            check_complete(cov[finite], "points")
        if cov is None:
            c, v, self.input_info_ = prepare_points(c, v)
            cov = np.zeros((len(v), 0))
        else:
            c, v, self.input_info_, cov = prepare_points(c, v, extra=cov)
        n = len(v)
        self._check_params(n)
        self.model_ = resolve_model(self.variogram_model, c, v)
        self.kriger_ = OrdinaryKriging(self.model_, n_neighbors=self.kriging_neighbors)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RemineWarning)
            self.kriger_.fit(c, v)
            self._loo_ok = _loo(self.kriger_)
        self.coords_, self.values_, self.cov_ = c, v, cov
        self.tree_ = cKDTree(c)
        kth = self.tree_.query(c, k=int(self.n_neighbors) + 1)[0][:, -1]
        self.length_ = float(np.median(kth)) or 1.0
        seq, static, est, _ = self._raw_inputs(c, cov, exclude_self=True)
        target = v - est if self.target == "residual" else v.copy()
        self.training_inputs_ = {"sequence": seq, "static": static, "target": target}
        flat = seq.reshape(-1, seq.shape[2])
        self.seq_mean_, self.seq_scale_ = flat.mean(axis=0), _scale(flat.std(axis=0))
        self.static_mean_, self.static_scale_ = static.mean(axis=0), _scale(static.std(axis=0))
        self.target_mean_, self.target_scale_ = float(target.mean()), float(_scale(np.array([target.std()]))[0])
        s_seq, s_static = self._standardised(seq, static)
        y = ((target - self.target_mean_) / self.target_scale_).astype(np.float32)
        folds = np.random.default_rng(self.random_state).permutation(n) % int(self.n_folds)
        settings = self._settings()
        self.members_, self.histories_ = [], []
        oof_sum, oof_sq, oof_n = np.zeros(n), np.zeros(n), np.zeros(n)
        m_total = int(self.n_ensemble)
        with self._threads():
            seq_t, static_t, y_t = torch.from_numpy(s_seq), torch.from_numpy(s_static), torch.from_numpy(y)
            for m in range(m_total):
                seed = int(self.random_state) + m
                torch.manual_seed(seed)
                net = build_network(self.architecture, seq.shape[2], static.shape[1], int(self.hidden),
                                    float(self.dropout))
                held = np.flatnonzero(folds == m % int(self.n_folds))
                train = np.flatnonzero(folds != m % int(self.n_folds))
                hist = train_member(net, seq_t, static_t, y_t, train, held, settings, seed,
                                    progress.sub(m / m_total, (m + 1) / m_total),
                                    f" (member {m + 1}/{m_total})")
                self.members_.append(net)
                self.histories_.append(hist)
                pred = forward(net, s_seq[held], s_static[held]) * self.target_scale_ + self.target_mean_
                oof_sum[held] += pred
                oof_sq[held] += pred ** 2
                oof_n[held] += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = oof_sum / oof_n
            ens_var = np.maximum(oof_sq / oof_n - mean ** 2, 0.0)
        base = est if self.target == "residual" else 0.0
        self.oof_ = base + mean
        self._calibrate(v, self.oof_, self._loo_ok[1] + ens_var)
        return self

    def _calibrate(self, observed, predicted, raw_var):
        """Scale ``std_scale_`` of the raw standard deviation so that the nominal interval covers ``coverage``
        of the out-of-fold residuals; ``oof_coverage_`` is what the unscaled (s = 1) interval covered."""
        from scipy.stats import norm

        ok = np.isfinite(predicted)
        z = norm.ppf(0.5 + float(self.coverage) / 2.0)
        ratio = np.abs(observed[ok] - predicted[ok]) / np.sqrt(np.maximum(raw_var[ok], 1e-300))
        self.z_ = float(z)
        self.oof_coverage_ = float(np.mean(ratio <= z)) if ok.any() else float("nan")
        self.std_scale_ = float(np.quantile(ratio, float(self.coverage)) / z) if ok.sum() >= 5 else 1.0

    def predict(self, targets, covariates=None, return_std=False, progress=None):
        """Hybrid estimate (and calibrated standard deviation) at ``targets``.

        Parameters
        ----------
        targets : ndarray (m, 2|3) – coordinates in the units of the samples. covariates : ndarray (m, p) |
            DataFrame – required when the model was fitted with covariates. return_std : bool.
        progress : Progress, optional – cancel is checked between members.

        Returns
        -------
        estimate (m,) [, std (m,)] in the units of the values; NaN where a covariate is missing.
        """
        if not hasattr(self, "members_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this HybridKrigingRegressor is not fitted yet; call fit(coords, values) first")
        progress = as_progress(progress)
        T = as_coords(targets, "targets")
        if T.shape[1] != self.coords_.shape[1]:
            raise InputError(f"targets have {T.shape[1]} coordinates but the samples have {self.coords_.shape[1]}")
        cov = self._encode(covariates, len(T), what="targets")
        mean, std = np.empty(len(T)), np.empty(len(T))
        with self._threads(predicting=True):
            for s in range(0, len(T), _CHUNK):
                e = min(len(T), s + _CHUNK)
                c = np.zeros((e - s, 0)) if cov is None else cov[s:e]
                mean[s:e], std[s:e] = self._predict_chunk(T[s:e], c, progress)
        if cov is not None:
            mean[~np.all(np.isfinite(cov), axis=1)] = np.nan
        std[~np.isfinite(mean)] = np.nan
        return (mean, std) if return_std else mean

    def _predict_chunk(self, T, cov, progress):
        """Ensemble mean and calibrated std at targets ``T`` (m, d) with encoded covariates ``cov`` (m, q)."""
        seq, static, est, var = self._raw_inputs(T, cov, False)
        s_seq, s_static = self._standardised(seq, static)
        del seq, static
        progress.check()
        workers = min(len(self.members_), self.n_threads or min(4, os.cpu_count() or 1))
        if workers > 1:  # members side by side in threads (torch releases the GIL), one torch thread each
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers) as pool:
                outs = np.array(list(pool.map(lambda net: forward(net, s_seq, s_static), self.members_)))
        else:
            outs = np.array([forward(net, s_seq, s_static) for net in self.members_])
        outs = outs * self.target_scale_ + self.target_mean_
        mean = outs.mean(axis=0) + (est if self.target == "residual" else 0.0)
        return mean, self.std_scale_ * np.sqrt(np.maximum(var, 0.0) + outs.var(axis=0))

    # --- serialisation: torch modules as state_dicts of numpy arrays -------------------------------------------
    def __getstate__(self):
        state = dict(super().__getstate__())
        if "members_" in state:
            state["members_"] = [{k: v.detach().numpy() for k, v in m.state_dict().items()} for m in self.members_]
            state["_net_shape"] = (self.training_inputs_["sequence"].shape[2],
                                   self.training_inputs_["static"].shape[1])
        return state

    def __setstate__(self, state):
        state = dict(state)
        weights, shape = state.pop("members_", None), state.pop("_net_shape", None)
        super().__setstate__(state)
        if weights is not None:
            torch = torch_module()
            self.members_ = []
            for w in weights:
                net = build_network(self.architecture, shape[0], shape[1], int(self.hidden), float(self.dropout))
                net.load_state_dict({k: torch.from_numpy(np.array(a)) for k, a in w.items()})
                net.eval()
                self.members_.append(net)


def _scale(std):
    return np.where(std > 0, std, 1.0)


def _rows(covariates, keep):
    """The rows ``keep`` (bool) of an array or DataFrame."""
    if hasattr(covariates, "iloc"):
        return covariates.iloc[np.flatnonzero(keep)]
    a = np.asarray(covariates)
    return a.reshape(len(a), -1)[keep]
