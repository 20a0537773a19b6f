"""Binned template likelihood: any number of dimensions, constrained yields, shape systematics.

The expected counts in bin i are a sum over components k,

    ν_i(y, α) = Σ_k y_k · T_ki(α),    Σ_i T_ki = 1,

with y_k the expected number of events of component k in the fitted range (its *yield*, the
parameter named after the component) and T_k its unit-normalised template. The negative
log-likelihood minimised with iminuit (MIGRAD; analytic gradient) is

    −ln L = Σ_i [ν_i − n_i ln ν_i] + Σ_k C_k(y_k) + ½ Σ_j α_j²      (constants dropped)

with one constraint term C_k per yield:

- :class:`Free` — none (an optional lower bound, 0 by default);
- :class:`Gaussian` — ½((y − mean)/σ)², a prior or an external measurement;
- :class:`PoissonControl` — r·y − m ln(r·y): a control measurement that counted m events
  where it expected r·y (e.g. an off-window of r times the on-window's exposure).

Shape systematics (HistFactory's *histosys*, Cranmer et al., CERN-OPEN-2012-016) are
nuisance parameters α_j with unit-Gaussian constraints, shared by name between components.
Each moves a template between its −1σ and +1σ versions, bin by bin, by quadratic
interpolation for −1 ≤ α ≤ 1 and linear extrapolation outside (pyhf's ``code2``; value and
slope continuous at ±1), then clips at 0 and renormalises: a shape systematic changes the
shape only; put a normalisation uncertainty into the yield's constraint.

Intervals are profile-likelihood intervals (MINOS: −2Δln L = χ²₁ quantile, Wilks 1938), the
discovery significance is Z = √q₀ with q₀ = −2 ln[L(y_s = 0, θ̂̂)/L(ŷ_s, θ̂)] for ŷ_s > 0 and
0 otherwise (Cowan, Cranmer, Gross & Vitells, EPJC 71 (2011) 1554, eq. 12 and 52),
asymptotically (:meth:`~analysis_lib.stats.templates.TemplateFit.significance`);
:meth:`~analysis_lib.stats.templates.TemplateFit.toy_significance`
counts the p-value in toys drawn from the background-only fit, with the control measurements
and Gaussian global observables fluctuated too.

Why not pyhf or cabinetry: pyhf implements exactly this HistFactory model, but as a JSON
workspace with normalisation factors (multipliers of a nominal histogram), not event counts
of a unit shape; Poisson-constrained yields from a control measurement need an extra channel
per control; and its fits go through its own optimiser layer (scipy or iminuit behind a
backend switch), adding a dependency tree (jsonschema, click, tensor backends) to the image
for a model of ~200 lines here. cabinetry builds pyhf workspaces from ntuples via a YAML
configuration; our templates already exist as histograms. Both are good choices for large
multi-channel HistFactory models; a pyhf workspace can be exported from this model later.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Component",
    "Free",
    "Gaussian",
    "PoissonControl",
    "TemplateFit",
    "TemplateModel",
    "ToyResults",
]

_TINY = 1e-300


@dataclass(frozen=True)
class Free:
    """An unconstrained yield, bounded below by ``lower`` (None: unbounded)."""

    lower: float | None = 0.0


@dataclass(frozen=True)
class Gaussian:
    """A yield constrained by a Gaussian of ``mean`` ± ``sigma`` events (a prior or an
    external measurement); bounded below by ``lower`` (None: unbounded)."""

    mean: float
    sigma: float
    lower: float | None = 0.0

    def __post_init__(self) -> None:
        if not self.sigma > 0:
            raise ValueError(f"Gaussian(sigma={self.sigma}): sigma must be > 0")


@dataclass(frozen=True)
class PoissonControl:
    """A yield measured in a control region: ``count`` events seen where ``ratio`` × the
    yield were expected (ratio = control exposure / signal-region exposure)."""

    count: float
    ratio: float = 1.0

    def __post_init__(self) -> None:
        if not self.ratio > 0:
            raise ValueError(f"PoissonControl(ratio={self.ratio}): ratio must be > 0")
        if self.count < 0:
            raise ValueError(f"PoissonControl(count={self.count}): a count is ≥ 0")

    lower = 0.0


Constraint = Free | Gaussian | PoissonControl


def _values_of(obj, what: str) -> np.ndarray:
    """Bin contents of a ``hist.Hist`` (flow bins excluded) or an array."""
    if hasattr(obj, "values") and hasattr(obj, "axes"):
        return np.asarray(obj.values(), dtype=float)
    arr = np.asarray(obj, dtype=float)
    if arr.ndim == 0:
        raise ValueError(f"{what}: expected a histogram or an array of bin contents, got {obj!r}")
    return arr


def _edges_of(obj) -> list[np.ndarray] | None:
    if hasattr(obj, "axes"):
        return [np.asarray(ax.edges, dtype=float) for ax in obj.axes]
    return None


@dataclass
class Component:
    """One process: a template (histogram, array, or density model) and its yield constraint.

    Parameters
    ----------
    name : str
        The yield parameter's name.
    template : hist.Hist, array, or callable
        Bin contents with the data's shape (normalised to unit sum here), or a density
        f(x₀, x₁, …) of the axes' coordinates, integrated over each bin (midpoint rule; needs
        the data as a histogram for the edges).
    constraint : Free, Gaussian or PoissonControl
        The yield's constraint (default: free, ≥ 0).
    variations : dict name → (down, up)
        Shape systematics: the template at −1σ and +1σ of nuisance ``name`` (same kinds as
        ``template``).
    """

    name: str
    template: object
    constraint: Constraint = field(default_factory=Free)
    variations: Mapping[str, tuple[object, object]] = field(default_factory=dict)


def _as_template(obj, shape, edges, what: str) -> np.ndarray:
    if callable(obj) and not hasattr(obj, "axes"):
        if edges is None:
            raise ValueError(f"{what}: a density template needs the data as a histogram (edges)")
        centres = np.meshgrid(*[(e[1:] + e[:-1]) / 2 for e in edges], indexing="ij")
        widths = np.meshgrid(*[np.diff(e) for e in edges], indexing="ij")
        vals = np.asarray(obj(*centres), dtype=float) * np.prod(widths, axis=0)
    else:
        vals = _values_of(obj, what)
    if vals.shape != shape:
        raise ValueError(f"{what}: shape {vals.shape} differs from the data's {shape}")
    if not np.all(np.isfinite(vals)) or np.any(vals < 0):
        raise ValueError(f"{what}: bins must be finite and ≥ 0")
    total = vals.sum()
    if not total > 0:
        raise ValueError(f"{what}: all bins are 0; a template needs some content")
    return (vals / total).ravel()


@dataclass
class ToyResults:
    """Fits of toy experiments: one row per toy.

    Attributes
    ----------
    values, errors : dict name → array
        Best-fit values and HESSE errors.
    lower, upper : dict name → array
        Profile-likelihood interval edges, for the parameters asked for.
    q0 : array or None
        Discovery test statistic of the component asked for.
    valid : array of bool
        MIGRAD converged.
    """

    values: dict[str, np.ndarray]
    errors: dict[str, np.ndarray]
    lower: dict[str, np.ndarray]
    upper: dict[str, np.ndarray]
    q0: np.ndarray | None
    valid: np.ndarray


class TemplateModel:
    """The binned likelihood of data against a sum of templates (see the module docstring).

    Parameters
    ----------
    data : hist.Hist or array
        Observed counts, any number of dimensions (flow bins are ignored).
    components : sequence of Component
        The processes; their names are the yield parameters.
    """

    def __init__(self, data, components: Sequence[Component]) -> None:
        self.data = _values_of(data, "data")
        if np.any(self.data < 0) or not np.all(np.isfinite(self.data)):
            raise ValueError("data: counts must be finite and ≥ 0")
        self.shape = self.data.shape
        self.edges = _edges_of(data)
        if not components:
            raise ValueError("components: give at least one")
        names = [c.name for c in components]
        if len(set(names)) != len(names):
            raise ValueError(f"components: duplicate names in {names}")
        self.components = list(components)
        self.yield_names = names
        self.nuisance_names: list[str] = []
        for c in components:
            for v in c.variations:
                if v in names:
                    raise ValueError(f"shape systematic {v!r} has a component's name")
                if v not in self.nuisance_names:
                    self.nuisance_names.append(v)
        self.names = self.yield_names + self.nuisance_names
        self._nominal = np.array(
            [
                _as_template(c.template, self.shape, self.edges, f"template {c.name!r}")
                for c in components
            ]
        )
        # per (component, nuisance): interpolation coefficients a = (up − down)/2,
        # b = (up + down)/2 − nominal, on the unit-normalised templates
        self._histosys: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        for k, c in enumerate(components):
            for v, (down, up) in c.variations.items():
                d = _as_template(down, self.shape, self.edges, f"{c.name!r} {v} down")
                u = _as_template(up, self.shape, self.edges, f"{c.name!r} {v} up")
                j = self.nuisance_names.index(v)
                self._histosys.append((k, j, (u - d) / 2, (u + d) / 2 - self._nominal[k]))
        self._n = self.data.ravel().copy()
        self._aux = self._default_aux()
        # the constraint terms, by kind, for the likelihood's inner loop
        self._gaussians = [
            (k, c.name, float(c.constraint.sigma))
            for k, c in enumerate(components)
            if isinstance(c.constraint, Gaussian)
        ]
        self._controls = [
            (k, c.name, float(c.constraint.ratio))
            for k, c in enumerate(components)
            if isinstance(c.constraint, PoissonControl)
        ]

    # ------------------------------------------------------------------ the model
    def _default_aux(self) -> dict[str, float]:
        aux = {}
        for c in self.components:
            if isinstance(c.constraint, PoissonControl):
                aux[c.name] = float(c.constraint.count)
            elif isinstance(c.constraint, Gaussian):
                aux[c.name] = float(c.constraint.mean)
        return aux

    def _templates(self, alpha: np.ndarray) -> tuple[np.ndarray, list]:
        """Templates at ``alpha`` (K × bins) and their α-derivatives [(k, j, dT)]."""
        if not self._histosys:
            return self._nominal, []
        raw = self._nominal.copy()
        draw: dict[tuple[int, int], np.ndarray] = {}
        for k, j, a, b in self._histosys:
            x = alpha[j]
            if x > 1:
                raw[k] += (a + 2 * b) * (x - 1) + a + b
                d = a + 2 * b
            elif x < -1:
                raw[k] += (a - 2 * b) * (x + 1) + b - a
                d = a - 2 * b
            else:
                raw[k] += a * x + b * x * x
                d = a + 2 * b * x
            draw[(k, j)] = draw.get((k, j), 0) + d
        out = np.empty_like(raw)
        derivs = []
        for k in range(len(raw)):
            pos = raw[k] > 0
            f = np.where(pos, raw[k], 0.0)
            s = f.sum()
            out[k] = f / s
            for (kk, j), d in draw.items():
                if kk == k:
                    df = np.where(pos, d, 0.0)
                    derivs.append((k, j, (df - out[k] * df.sum()) / s))
        return out, derivs

    def expected(self, params: Mapping[str, float] | Sequence[float], *, component=None):
        """Expected counts (the data's shape) at ``params``; of one component if named."""
        p = self._vector(params)
        y, alpha = p[: len(self.yield_names)], p[len(self.yield_names) :]
        t, _ = self._templates(alpha)
        if component is not None:
            k = self.yield_names.index(component)
            return (y[k] * t[k]).reshape(self.shape)
        return (y @ t).reshape(self.shape)

    def _vector(self, params) -> np.ndarray:
        if isinstance(params, Mapping):
            missing = set(self.names) - set(params)
            if missing:
                raise KeyError(f"params: missing {sorted(missing)}")
            return np.array([float(params[k]) for k in self.names])
        p = np.asarray(params, dtype=float)
        if p.shape != (len(self.names),):
            raise ValueError(f"params: expected {len(self.names)} values ({self.names})")
        return p

    def nll(self, p: np.ndarray, n: np.ndarray | None = None, aux=None) -> float:
        """−ln L at the parameter vector ``p`` (order: :attr:`names`), constants dropped."""
        return self._nll_grad(p, self._n if n is None else n, self._aux if aux is None else aux)[0]

    def _nll_grad(self, p, n, aux) -> tuple[float, np.ndarray]:
        ny = len(self.yield_names)
        y, alpha = p[:ny], p[ny:]
        t, derivs = self._templates(alpha)
        nu = y @ t
        nu_safe = np.maximum(nu, _TINY)
        value = float(nu.sum() - n @ np.log(nu_safe))
        w = 1.0 - n / nu_safe
        grad = np.empty_like(p)
        grad[:ny] = t @ w
        grad[ny:] = alpha
        for k, j, dt in derivs:
            grad[ny + j] += y[k] * (dt @ w)
        value += 0.5 * float(alpha @ alpha)
        for k, name, sigma in self._gaussians:
            z = (y[k] - aux[name]) / sigma
            value += 0.5 * z * z
            grad[k] += z / sigma
        for k, name, ratio in self._controls:
            lam = max(ratio * float(y[k]), _TINY)
            m = aux[name]
            value += lam - m * math.log(lam)
            grad[k] += ratio * (1 - m / lam)
        return value, grad

    # ------------------------------------------------------------------ fitting
    def start(self) -> np.ndarray:
        """A starting point: control-measured and Gaussian yields at their measurement, free
        yields share what the data hold beyond them; nuisances at 0."""
        total = float(self._n.sum())
        y = np.zeros(len(self.yield_names))
        free = []
        for k, c in enumerate(self.components):
            con = c.constraint
            if isinstance(con, PoissonControl):
                y[k] = max(self._aux[c.name] / con.ratio, 1.0)
            elif isinstance(con, Gaussian):
                y[k] = max(self._aux[c.name], 0.1 * con.sigma)
            else:
                free.append(k)
        rest = max(total - y.sum(), 1.0 * len(free))
        for k in free:
            y[k] = rest / len(free)
        return np.r_[y, np.zeros(len(self.nuisance_names))]

    def _minuit(self, n, aux, start, fixed: Mapping[str, float] | None = None):
        from iminuit import Minuit

        last: list = [None, None]  # MIGRAD asks for the value, then the gradient, at one point

        def both(p):
            key = p.tobytes()
            if last[0] != key:
                last[0], last[1] = key, self._nll_grad(p, n, aux)
            return last[1]

        def fcn(p):
            return both(p)[0]

        def grad(p):
            return both(p)[1]

        start = np.array(start, dtype=float)
        for k, c in enumerate(self.components):
            # MIGRAD's bounded-parameter transform has zero slope at the bound: a start on
            # the bound stays there, so start one event inside
            lower = c.constraint.lower
            if lower is not None and start[k] < lower + 1.0:
                start[k] = lower + 1.0
        m = Minuit(fcn, start, grad=grad, name=self.names)
        m.errordef = Minuit.LIKELIHOOD
        for c in self.components:
            lower = c.constraint.lower
            m.limits[c.name] = (lower, None) if lower is not None else (None, None)
        for name, value in (fixed or {}).items():
            if name not in self.names:
                raise KeyError(f"fixed: unknown parameter {name!r}; parameters: {self.names}")
            m.values[name] = value
            m.fixed[name] = True
        m.migrad()
        return m

    def fit(
        self,
        *,
        fixed: Mapping[str, float] | None = None,
        start: Mapping[str, float] | None = None,
    ) -> TemplateFit:
        """Maximum-likelihood fit of the data; ``fixed`` holds parameters at given values."""
        s = self.start()
        for k, v in (start or {}).items():
            s[self.names.index(k)] = v
        m = self._minuit(self._n, self._aux, s, fixed)
        if not m.valid:
            m = self._minuit(self._n, self._aux, np.asarray(m.values), fixed)
        if not m.valid:
            raise RuntimeError(f"template fit did not converge:\n{m.fmin}")
        m.hesse()
        return TemplateFit(self, m, dict(fixed or {}))

    # ------------------------------------------------------------------ toys
    def sample(self, params, *, size: int, rng: np.random.Generator):
        """Toy data (size × data shape) and auxiliary measurements drawn at ``params``."""
        p = self._vector(params)
        nu = self.expected(p).ravel()
        n = rng.poisson(nu, size=(size, nu.size)).astype(float)
        aux = {}
        y = dict(zip(self.names, p, strict=True))
        for c in self.components:
            con = c.constraint
            if isinstance(con, PoissonControl):
                aux[c.name] = rng.poisson(con.ratio * y[c.name], size=size).astype(float)
            elif isinstance(con, Gaussian):
                aux[c.name] = rng.normal(y[c.name], con.sigma, size=size)
        return n.reshape((size, *self.shape)), aux

    def fit_toys(
        self,
        truth: Mapping[str, float],
        *,
        n_toys: int,
        seed: int | np.random.Generator = 0,
        intervals: Sequence[str] = (),
        cl: float = 0.6827,
        discovery: str | None = None,
    ) -> ToyResults:
        """Draw ``n_toys`` toy experiments at ``truth`` and fit each one.

        ``intervals`` names parameters whose profile-likelihood interval at ``cl`` is
        computed (MINOS) per toy; ``discovery`` names a yield whose q₀ is computed per toy.
        Every fit starts from the truth (a good start makes toys fast).
        """
        rng = np.random.default_rng(seed)
        minos_cl = _minos_cl(cl)
        data, aux = self.sample(truth, size=n_toys, rng=rng)
        start = self._vector(truth)
        vals = np.full((n_toys, len(self.names)), np.nan)
        errs = np.full_like(vals, np.nan)
        lower = {k: np.full(n_toys, np.nan) for k in intervals}
        upper = {k: np.full(n_toys, np.nan) for k in intervals}
        q0 = np.full(n_toys, np.nan) if discovery else None
        valid = np.zeros(n_toys, dtype=bool)
        for i in range(n_toys):
            n = data[i].ravel()
            a = {k: float(v[i]) for k, v in aux.items()}
            m = self._minuit(n, a, start)
            valid[i] = m.valid
            vals[i] = m.values
            if intervals:
                m.hesse()
            errs[i] = m.errors
            for k in intervals:
                lo, hi = _minos_interval(m, k, minos_cl)
                lower[k][i], upper[k][i] = lo, hi
            if discovery:
                q0[i] = self._q0(m, discovery, n, a)
        return ToyResults(
            values={k: vals[:, j] for j, k in enumerate(self.names)},
            errors={k: errs[:, j] for j, k in enumerate(self.names)},
            lower=lower,
            upper=upper,
            q0=q0,
            valid=valid,
        )

    def _q0(self, m, name: str, n, aux) -> float:
        if m.values[name] <= 0:
            return 0.0
        start = np.asarray(m.values)
        start[self.names.index(name)] = 0.0
        m0 = self._minuit(n, aux, start, {name: 0.0})
        return max(2.0 * (m0.fval - m.fval), 0.0)


def _minos_cl(cl: float) -> float:
    """``cl`` as iminuit's MINOS takes it without recomputing a χ² quantile per call:
    a number of σ (≥ 1) where the level is at least 68.27 %, else the probability."""
    from scipy.stats import norm

    if not 0 < cl < 1:
        raise ValueError(f"cl={cl}: a confidence level is in (0, 1)")
    nsigma = float(norm.isf((1 - cl) / 2))
    return nsigma if nsigma >= 1 else cl


def _minos_interval(m, name: str, cl: float) -> tuple[float, float]:
    """Profile-likelihood interval of ``name`` at ``cl`` (as :func:`_minos_cl` returns it)
    from a converged Minuit (MINOS); an edge at a parameter limit is that limit."""
    m.minos(name, cl=cl)
    me = m.merrors[name]
    v = m.values[name]
    lo = m.limits[name][0] if me.at_lower_limit else v + me.lower
    hi = m.limits[name][1] if me.at_upper_limit else v + me.upper
    if not (me.lower_valid or me.at_lower_limit):
        lo = np.nan
    if not (me.upper_valid or me.at_upper_limit):
        hi = np.nan
    return float(lo), float(hi)


class TemplateFit:
    """A converged fit of a :class:`TemplateModel`: values, errors, intervals, significance."""

    def __init__(self, model: TemplateModel, minuit, fixed: dict[str, float]) -> None:
        self.model = model
        self.minuit = minuit
        self.fixed = fixed
        self.values = {k: float(minuit.values[k]) for k in model.names}
        self.errors = {k: float(minuit.errors[k]) for k in model.names}
        self.nll = float(minuit.fval)

    def expected(self, *, component: str | None = None) -> np.ndarray:
        """Expected counts at the best fit (all components, or one)."""
        return self.model.expected(self.values, component=component)

    def interval(self, name: str, *, cl: float = 0.6827) -> tuple[float, float]:
        """Profile-likelihood interval of ``name`` at confidence level ``cl`` (MINOS)."""
        if name not in self.model.names:
            raise KeyError(f"unknown parameter {name!r}; parameters: {self.model.names}")
        return _minos_interval(self.minuit, name, _minos_cl(cl))

    def profile(self, name: str, values: Sequence[float]) -> np.ndarray:
        """−2 Δln L of the fits with ``name`` fixed at each of ``values``."""
        out = []
        for v in values:
            m = self.model._minuit(
                self.model._n, self.model._aux, np.asarray(self.minuit.values), {name: v}
            )
            out.append(2.0 * (m.fval - self.nll))
        return np.array(out)

    def q0(self, name: str) -> float:
        """Discovery test statistic q₀ for yield ``name`` (Cowan et al. 2011, eq. 12)."""
        if name not in self.model.yield_names:
            raise KeyError(f"q0: {name!r} is not a yield; yields: {self.model.yield_names}")
        return self.model._q0(self.minuit, name, self.model._n, self.model._aux)

    def significance(self, name: str) -> float:
        """Asymptotic discovery significance Z = √q₀ of yield ``name`` against its absence
        (Cowan et al. 2011, eq. 52; 0 when the best fit has no excess)."""
        return float(np.sqrt(self.q0(name)))

    def toy_significance(self, name: str, *, n_toys: int, seed: int = 0) -> tuple[float, float]:
        """Discovery significance of yield ``name`` counted in toys: ``(Z, p)``.

        Toys are drawn at the background-only fit (``name`` fixed at 0), auxiliary
        measurements fluctuated; p is the fraction of toys with q₀ ≥ the observed q₀ and
        Z = Φ⁻¹(1 − p) (infinite when no toy reaches it: then Z > Φ⁻¹(1 − 1/n_toys)).
        """
        from scipy.stats import norm

        if n_toys < 1:
            raise ValueError(f"n_toys={n_toys}: need at least one toy")
        q0 = self.q0(name)
        bkg = self.model.fit(fixed={name: 0.0})
        toys = self.model.fit_toys(bkg.values, n_toys=n_toys, seed=seed, discovery=name)
        p = float(np.mean(toys.q0 >= q0))
        return (float(norm.isf(p)) if p > 0 else float("inf")), p
