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

No leakage, for a given variogram: at a training sample the neighbours and the OK estimate leave the sample
itself out (leave-one-out), exactly as a target is never among its own samples; the sample's value is only the
target. The variogram, like the standardisation statistics, is a global hyper-parameter of all samples: a model
name (default "spherical") is fitted once on all training samples, so a sample's value reaches its own
covariance, OK estimate and standard deviation, average covariance and covariate innovations through the fitted
parameters — never its neighbours' values, offsets, distances or covariates. Inputs at a target (prediction time)
come from the same fitted variogram, and gstat's ``krige.cv`` also cross-validates with a fixed variogram; for
the strict guarantee pass a :class:`VariogramModel` (then a sample's inputs are bit-equal whatever its value).
The authors' notebook instead fed the observed value as an input and split at random, which measures
leakage, not interpolation.

The network predicts the OK residual ``z − ẑ_OK`` (``target="residual"``, default) or the value. The default
is the residual: the network then only corrects kriging and, with its zero-initialised output layer, falls back
to it where it learns nothing; on the development cases (demo scene seed 0, synthetic covariate field seed 7) it
was better against the demo truth (Zn) and on the synthetic case, the value only in one spatial cross-validation
(demo Zn) (see benchmarks/NOTES.md; the tests assert on other seeds).

Ensemble and uncertainty: member ``m`` is trained with seed ``random_state + m`` on all samples but one of
``n_folds`` spatial folds (k-means clusters of the coordinates, fold ``m mod n_folds``), which drives its early
stopping. At the samples of its held-out fold the member predicts as at targets in an unsampled area: their
neighbours, OK estimate and variance and kriged covariates come from the other folds only. The predictive
standard deviation is ``s · sqrt(σ²_OK + σ²_ens)`` (OK variance plus the variance between members), with the
scale ``s`` chosen so that the nominal ``coverage`` (90 %) interval ``± z σ`` covers that fraction of these
out-of-fold residuals: intervals calibrated for prediction into unsampled areas the size of a fold (random
folds, whose samples stay surrounded by others, gave too narrow intervals in spatial cross-validation; see
benchmarks/NOTES.md).

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
from .cv import fold_labels, leave_one_out
from .fit import resolve_model
from .kriging import OrdinaryKriging

TARGETS = ("residual", "value")
_CHUNK = 32768  # targets whose inputs are built at once (about 100 MB with 16 neighbours and 9 covariates)
_SLICE = 4096  # targets of one network task while predicting (tasks: members x slices, spread over the threads)


class HybridKrigingRegressor(RegressorMixin, BaseEstimator):
    """Ordinary kriging corrected by an ensemble of 1D CNN-BiLSTM networks on leave-one-out neighbour sequences.

    Parameters
    ----------
    variogram_model : VariogramModel | str – the variogram of the values, or a model name fitted once to all
        training values (a global hyper-parameter: the leave-one-out inputs exclude a sample's value for this
        variogram, not from its fit; see the module docstring).
    n_neighbors : int – neighbours in each sequence (default 16).
    target : "residual" (network predicts z − OK estimate) | "value".
    architecture : "cnn-bilstm" | "anvari2025" (the paper's network and training settings).
    n_ensemble : int – members (seeds); n_folds : int – spatial folds of early stopping and of the out-of-fold
        residuals.
    max_epochs, patience, batch_size, learning_rate, weight_decay : training of each member (Adam, MSE; the
        learning rate halves after 10 epochs without a lower validation loss).
    hidden : int – convolution channels and LSTM units. dropout : float.
    kriging_neighbors : int – neighbours of the OK estimate (default 32).
    categorical : list of int | str – covariate columns to one-hot encode (DataFrame columns that are not
        numeric are categorical anyway).
    coverage : float – nominal coverage of the calibrated interval (default 0.9).
    random_state : int – same value, same predictions. n_threads : int – torch threads while training (default
        1) and threads predicting members x slices of targets side by side (default: up to 4).

    Attributes (after fit): ``model_`` (VariogramModel), ``kriger_`` (fitted OrdinaryKriging), ``folds_`` (spatial
    fold of every sample), ``members_``
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

    def _raw_inputs(self, samples, T, cov, exclude_self):
        """Raw sequence (m, k, f) and static (m, s) inputs at targets ``T`` (m, d) from ``samples`` (a
        :class:`_Samples`), and the OK estimate and variance there (m,); float64.

        ``exclude_self``: T are the samples themselves (row i leaves sample i out everywhere)."""
        k = int(self.n_neighbors)
        if exclude_self:
            dist, idx = samples.tree.query(T, k=k + 1)
            own = idx == np.arange(len(T))[:, None]
            keep = ~own
            keep[~own.any(axis=1), -1] = False  # sample not among its k+1 nearest (never after merging)
            dist = dist[keep].reshape(len(T), k)
            idx = idx[keep].reshape(len(T), k)
        else:
            dist, idx = samples.tree.query(T, k=k, workers=-1)
            dist, idx = dist.reshape(len(T), k), idx.reshape(len(T), k)
        est, var = samples.krige(T, exclude_self)
        sill = self.kriger_.A_
        cov_nb = (sill - self.model_.gamma(dist)) / sill
        offs = (samples.coords[idx] - T[:, None, :]) / self.length_
        parts = [samples.values[idx][..., None], offs, (dist / self.length_)[..., None], cov_nb[..., None]]
        if samples.cov.shape[1]:
            parts.append(samples.cov[idx])
        seq = np.concatenate(parts, axis=2)
        static = [est[:, None], np.sqrt(np.maximum(var, 0.0))[:, None], cov_nb.mean(axis=1)[:, None], T]
        if cov is not None and cov.shape[1]:
            static += [cov, cov - samples.krige_covariates(T, exclude_self)]
        return seq, np.concatenate(static, axis=1), est, var

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

    def _standardised(self, seq, static, overwrite=False):
        """float32 standardised inputs (NaN -> 0); ``overwrite``: ``seq`` and ``static`` are used as scratch."""
        if not overwrite:
            seq, static = seq.copy(), static.copy()
        for a, mean, scale in ((seq, self.seq_mean_, self.seq_scale_), (static, self.static_mean_,
                                                                        self.static_scale_)):
            a -= mean
            a /= scale
        return (np.nan_to_num(seq.astype(np.float32), copy=False),
                np.nan_to_num(static.astype(np.float32), copy=False))

    @contextlib.contextmanager
    def _threads(self, predicting=False):
        """torch intra-op threads inside the block, restored after: ``n_threads`` (default 1) while training
        (small batches: more threads only add overhead); 1 while predicting, where the members and slices of
        targets run side by side in ``n_threads`` (default: up to 4) Python threads instead."""
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
        self.samples_ = _Samples(c, v, cov, self.model_, self.kriging_neighbors)
        self.coords_, self.values_, self.cov_, self.kriger_ = c, v, cov, self.samples_.kriger
        kth = self.samples_.tree.query(c, k=int(self.n_neighbors) + 1)[0][:, -1]
        self.length_ = float(np.median(kth)) or 1.0
        seq, static, est, _ = self._raw_inputs(self.samples_, c, cov, exclude_self=True)
        target = v - est if self.target == "residual" else v.copy()
        self.training_inputs_ = {"sequence": seq, "static": static, "target": target}
        flat = seq.reshape(-1, seq.shape[2])
        self.seq_mean_, self.seq_scale_ = flat.mean(axis=0), _scale(flat.std(axis=0))
        self.static_mean_, self.static_scale_ = static.mean(axis=0), _scale(static.std(axis=0))
        self.target_mean_, self.target_scale_ = float(target.mean()), float(_scale(np.array([target.std()]))[0])
        s_seq, s_static = self._standardised(seq, static)
        y = ((target - self.target_mean_) / self.target_scale_).astype(np.float32)
        self.folds_ = fold_labels(c, "spatial", int(self.n_folds), int(self.random_state))
        smallest = n - int(np.bincount(self.folds_).max())
        if smallest < int(self.n_neighbors):
            raise InputError(f"{n} points in n_folds={self.n_folds} spatial folds: without its largest fold only "
                             f"{smallest} points remain for n_neighbors={self.n_neighbors}; give fewer neighbours "
                             "or fewer folds")
        settings = self._settings()
        self.members_, self.histories_ = [], []
        oof_sum, oof_sq, oof_n = np.zeros(n), np.zeros(n), np.zeros(n)
        oof_est, oof_var = np.full(n, np.nan), np.full(n, np.nan)
        held_out = {}  # fold -> standardised inputs of its samples built from the other folds
        m_total = int(self.n_ensemble)
        with self._threads():
            seq_t, static_t, y_t = torch.from_numpy(s_seq), torch.from_numpy(s_static), torch.from_numpy(y)
            for m in range(m_total):
                seed = int(self.random_state) + m
                torch.manual_seed(seed)
                net = build_network(self.architecture, seq.shape[2], static.shape[1], int(self.hidden),
                                    float(self.dropout))
                fold = m % int(self.n_folds)
                held = np.flatnonzero(self.folds_ == fold)
                train = np.flatnonzero(self.folds_ != fold)
                hist = train_member(net, seq_t, static_t, y_t, train, held, settings, seed,
                                    progress.sub(m / m_total, (m + 1) / m_total),
                                    f" (member {m + 1}/{m_total})")
                self.members_.append(net)
                self.histories_.append(hist)
                if fold not in held_out:
                    held_out[fold] = self._held_out_inputs(held, train)
                    oof_est[held], oof_var[held] = held_out[fold][2:]
                pred = forward(net, *held_out[fold][:2]) * self.target_scale_ + self.target_mean_
                oof_sum[held] += pred
                oof_sq[held] += pred ** 2
                oof_n[held] += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = oof_sum / oof_n
            ens_var = np.maximum(oof_sq / oof_n - mean ** 2, 0.0)
        self.oof_ = (oof_est if self.target == "residual" else 0.0) + mean
        self._calibrate(v, self.oof_, oof_var + ens_var)
        return self

    def _held_out_inputs(self, held, train):
        """Standardised inputs at the samples ``held`` (int indices) built from the samples ``train`` only, as
        at targets in an unsampled area, and the OK estimate and variance there: (seq, static, est, var)."""
        c, v, cov = self.coords_, self.values_, self.cov_
        others = _Samples(c[train], v[train], cov[train], self.model_, self.kriging_neighbors)
        seq, static, est, var = self._raw_inputs(others, c[held], cov[held], exclude_self=False)
        return (*self._standardised(seq, static), est, var)

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
        seq, static, est, var = self._raw_inputs(self.samples_, T, cov, False)
        s_seq, s_static = self._standardised(seq, static, overwrite=True)
        del seq, static
        progress.check()
        outs = np.empty((len(self.members_), len(T)))
        tasks = [(i, slice(s, s + _SLICE)) for i in range(len(self.members_)) for s in range(0, len(T), _SLICE)]

        def run(task):
            i, rows = task
            outs[i, rows] = forward(self.members_[i], s_seq[rows], s_static[rows])

        workers = min(len(tasks), self.n_threads or min(4, os.cpu_count() or 1))
        if workers > 1:  # side by side in threads (torch releases the GIL), one torch thread each
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, tasks))
        else:
            for task in tasks:
                run(task)
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


class _Samples:
    """The samples inputs are built from: ``coords`` (n, d), ``values`` (n,), encoded ``cov`` (n, q), their KD-tree
    ``tree``, the OK estimator ``kriger`` of the values and one per covariate (same model and neighbours: the
    same kriging weights)."""

    def __init__(self, coords, values, cov, model, n_neighbors):
        from scipy.spatial import cKDTree

        self.coords, self.values, self.cov = coords, values, cov
        self.tree = cKDTree(coords)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RemineWarning)
            self.kriger = OrdinaryKriging(model, n_neighbors=n_neighbors).fit(coords, values)
            self.cov_krigers = [OrdinaryKriging(model, n_neighbors=n_neighbors).fit(coords, cov[:, j])
                                for j in range(cov.shape[1])]

    def krige(self, T, exclude_self):
        """OK estimate and variance (m,) at ``T`` (m, d); leave-one-out at the samples with ``exclude_self``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RemineWarning)
            return leave_one_out(self.kriger) if exclude_self else self.kriger.predict(T)

    def krige_covariates(self, T, exclude_self):
        """(m, q) OK estimates of the covariates at ``T`` (leave-one-out at the samples with ``exclude_self``)."""
        out = np.empty((len(T), len(self.cov_krigers)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RemineWarning)
            for j, kr in enumerate(self.cov_krigers):
                out[:, j] = leave_one_out(kr)[0] if exclude_self else kr.predict(T, return_variance=False)
        return out


def _scale(std):
    return np.where(std > 0, std, 1.0)


def _rows(covariates, keep):
    """The rows ``keep`` (bool) of an array or DataFrame."""
    if hasattr(covariates, "iloc"):
        return covariates.iloc[np.flatnonzero(keep)]
    a = np.asarray(covariates)
    return a.reshape(len(a), -1)[keep]
