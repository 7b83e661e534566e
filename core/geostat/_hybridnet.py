"""The networks of :class:`~remine.core.geostat.hybrid.HybridKrigingRegressor` and their training (PyTorch, CPU).

Inputs of every network: a sequence ``seq`` (n, k, f) — one step per neighbour, nearest first — and static
features ``static`` (n, s), both standardised; output (n,) — the standardised target.

``"cnn-bilstm"`` (the default): Conv1d(f → h, kernel 3) over the neighbour steps → ReLU → BiLSTM(h) whose two
final states are concatenated with the static features → Linear(2h + s → 32) → ReLU → Dropout → Linear(32 → 1),
the last layer initialised to zero: an untrained member predicts the training mean of the target (with the
residual target: plain OK), and early stopping keeps it so when no epoch beats it on the held-out fold.

``"anvari2025"``: the network of Anvari et al. (2025), fed the same inputs (the static features repeated at
every step): Conv1d(f + s → 32, kernel 1, L2 1e-4) → LeakyReLU (Keras' slope 0.3) → Dropout 0.2 → BiLSTM(32) →
Dropout 0.2 → Dense 32 ReLU → Dense 1, with Keras' initialisation (Glorot-uniform kernels, orthogonal recurrent
weights, zero biases but 1 for the LSTM forget gates), trained with their settings as in the authors' notebook:
Adam 1e-4 (Keras epsilon 1e-7), MSE, batch 8, ≤ 200 epochs, early stopping with patience 30 keeping the best
weights, learning rate × 0.5 after 10 epochs without a validation loss lower by 1e-4 (Keras' absolute min_delta),
down to 1e-6.

Reference: Anvari, K., Benndorf, J., Gerber, ... (2025), Scientific Reports 15, 35004.
"""
import numpy as np

from ..dependencies import require
from ..errors import CancelledError, InputError

#: training settings of the paper's network (they override the regressor's); ``adam_eps``, ``plateau_threshold``
#: (mode, threshold) and ``min_lr`` are Keras' values where they differ from torch's defaults (1e-8, rel 1e-4, 0)
ANVARI_SETTINGS = {"learning_rate": 1e-4, "batch_size": 8, "max_epochs": 200, "patience": 30, "adam_eps": 1e-7,
                   "plateau_threshold": ("abs", 1e-4), "min_lr": 1e-6}
_PREDICT_BATCH = 2048  # rows per network call (the CPU LSTM is fastest near 2k rows; benchmarks/NOTES.md)


def torch_module():
    """torch, or DependencyError naming the ``deep`` extra."""
    return require("torch", extra="deep")


def build_network(architecture, n_seq, n_static, hidden, dropout):
    """The torch module for ``architecture`` ("cnn-bilstm" | "anvari2025")."""
    torch = torch_module()
    nn = torch.nn

    class CnnBiLstm(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(n_seq, hidden, 3, padding=1)
            self.lstm = nn.LSTM(hidden, hidden, batch_first=True, bidirectional=True)
            self.head = nn.Sequential(nn.Linear(2 * hidden + n_static, 32), nn.ReLU(), nn.Dropout(dropout),
                                      nn.Linear(32, 1))
            nn.init.zeros_(self.head[-1].weight)  # starts at the training mean: OK where nothing is learnt
            nn.init.zeros_(self.head[-1].bias)

        def forward(self, seq, static):
            h = torch.relu(self.conv(seq.transpose(1, 2))).transpose(1, 2)
            _, (hn, _) = self.lstm(h)
            return self.head(torch.cat([hn[0], hn[1], static], dim=1))[:, 0]

        def penalty(self):
            return 0.0

    class Anvari2025(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(n_seq + n_static, 32, 1)
            self.act = nn.LeakyReLU(0.3)  # Keras LeakyReLU() default
            self.drop = nn.Dropout(0.2)
            self.lstm = nn.LSTM(32, 32, batch_first=True, bidirectional=True)
            self.head = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 1))
            for layer in (self.conv, self.head[0], self.head[2]):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
            for d in ("", "_reverse"):
                nn.init.xavier_uniform_(getattr(self.lstm, f"weight_ih_l0{d}"))
                nn.init.orthogonal_(getattr(self.lstm, f"weight_hh_l0{d}"))
                nn.init.zeros_(getattr(self.lstm, f"bias_hh_l0{d}"))
                bias = getattr(self.lstm, f"bias_ih_l0{d}")
                nn.init.zeros_(bias)
                nn.init.ones_(bias[32:64])  # gates i, f, g, o: Keras unit_forget_bias

        def forward(self, seq, static):
            x = torch.cat([seq, static[:, None, :].expand(-1, seq.shape[1], -1)], dim=2)
            h = self.drop(self.act(self.conv(x.transpose(1, 2)))).transpose(1, 2)
            _, (hn, _) = self.lstm(h)
            return self.head(self.drop(torch.cat([hn[0], hn[1]], dim=1)))[:, 0]

        def penalty(self):
            return 1e-4 * (self.conv.weight ** 2).sum()  # Keras kernel_regularizer=l2(1e-4)

    if architecture == "cnn-bilstm":
        return CnnBiLstm()
    if architecture == "anvari2025":
        return Anvari2025()
    raise InputError(f"architecture '{architecture}' unknown; expected 'cnn-bilstm' or 'anvari2025'")


def train_member(net, seq, static, target, train, valid, settings, seed, progress=None, label=""):
    """Train ``net`` in place on rows ``train``; early stopping on rows ``valid`` (best weights kept).

    Parameters
    ----------
    seq (n, k, f), static (n, s), target (n,) : float32 torch tensors (standardised).
    train, valid : int index arrays. settings : dict with learning_rate, batch_size, max_epochs, patience,
    weight_decay. seed : int (torch generator of the batch order). progress : Progress mapped onto this member
    (reported per epoch, cancel checked per batch).

    Returns
    -------
    dict: ``loss`` and ``val_loss`` per epoch (lists), ``best_epoch`` (0: the untrained network, whose
    validation loss is the baseline, was never beaten).

    Raises
    ------
    InputError when the loss becomes NaN/inf (training diverged); CancelledError on cancel.
    """
    torch = torch_module()
    opt, plateau = optimizers(net, settings)
    gen = torch.Generator().manual_seed(int(seed))
    train_t, valid_t = torch.from_numpy(np.asarray(train)), torch.from_numpy(np.asarray(valid))
    loss_fn = torch.nn.MSELoss()
    history = {"loss": [], "val_loss": []}
    best, best_epoch, waited = _loss(net, loss_fn, seq, static, target, valid_t) if len(valid) else np.inf, 0, 0
    best_state = {k: v.clone() for k, v in net.state_dict().items()}
    batch, max_epochs = int(settings["batch_size"]), int(settings["max_epochs"])
    for epoch in range(max_epochs):
        net.train()
        order = train_t[torch.randperm(len(train_t), generator=gen)]
        total = 0.0
        for start in range(0, len(order), batch):
            if progress is not None and progress.is_cancelled():
                raise CancelledError("cancelled by the user")
            b = order[start:start + batch]
            opt.zero_grad()
            loss = loss_fn(net(seq[b], static[b]), target[b])
            (loss + net.penalty()).backward()
            opt.step()
            total += loss.item() * len(b)
        history["loss"].append(total / len(order))
        vloss = _loss(net, loss_fn, seq, static, target, valid_t) if len(valid) else history["loss"][-1]
        history["val_loss"].append(vloss)
        if not (np.isfinite(vloss) and np.isfinite(history["loss"][-1])):
            raise InputError(f"training diverged{label}: the loss became {history['loss'][-1]:g} (validation "
                             f"{vloss:g}) at epoch {epoch + 1}; nothing was written. Check the values for "
                             "extreme outliers (a log transform may help) or lower the learning rate")
        plateau.step(vloss)
        if progress is not None:
            progress.report((epoch + 1) / max_epochs, f"{label.strip()} epoch {epoch + 1}, validation loss "
                                                      f"{vloss:.4g}")
        if vloss < best - 1e-7:
            best, best_epoch, waited = vloss, epoch + 1, 0
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            waited += 1
            if waited >= settings["patience"]:
                break
    net.load_state_dict(best_state)
    net.eval()
    history["best_epoch"] = best_epoch
    return history


def optimizers(net, settings):
    """Adam on ``net``'s parameters and its ReduceLROnPlateau (× 0.5 after 10 epochs without improvement) for
    ``settings`` (learning_rate, weight_decay; optional adam_eps, plateau_threshold, min_lr)."""
    torch = torch_module()
    opt = torch.optim.Adam(net.parameters(), lr=settings["learning_rate"], weight_decay=settings["weight_decay"],
                           eps=settings.get("adam_eps", 1e-8))
    mode, threshold = settings.get("plateau_threshold", ("rel", 1e-4))
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=10, threshold=threshold,
                                                         threshold_mode=mode, min_lr=settings.get("min_lr", 0.0))
    return opt, plateau


def _loss(net, loss_fn, seq, static, target, rows):
    """Loss on ``rows`` with dropout off."""
    torch = torch_module()
    net.eval()
    with torch.no_grad():
        return float(loss_fn(net(seq[rows], static[rows]), target[rows]))


def forward(net, seq, static):
    """Network outputs (n,) float64 for numpy inputs, in batches, dropout off."""
    torch = torch_module()
    out = np.empty(len(seq))
    net.eval()
    with torch.inference_mode():
        for s in range(0, len(seq), _PREDICT_BATCH):
            e = min(len(seq), s + _PREDICT_BATCH)
            out[s:e] = net(torch.from_numpy(seq[s:e]), torch.from_numpy(static[s:e])).numpy()
    return out
