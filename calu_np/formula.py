"""Turn exact (snapped) CALU weights into readable formulas such as `y0 = x0*x1`.

The symbolic form is small and built for exactly what a CALU stack computes:

- An expression is a dict {monomial: coefficient}, a sum of monomials with like terms merged.
  The empty monomial () is the constant term; an empty dict is the constant 0.
- A monomial is a sorted tuple of (base, exponent) pairs. A base is an input index (int) or a
  `Group`: a whole sub-expression kept as the base of a power, such as (x0 + x1)**-1.
- Coefficients and exponents are Python complex numbers.

Rules, each exact for the principal-branch arithmetic of the layers (`calu_np.layers`):

- CALUa: y_k = Σ_j M_kj h_j, merging like terms. A merged coefficient that cancels to within
  1e-12 of the largest contribution is dropped.
- CALUm: y_k = Π_j h_j**M_kj. Factors with the same base add their exponents, because
  exp(a log z) exp(b log z) = exp((a + b) log z) holds for every z.
- A single monomial raised to an integer power combines its exponents: (c x0 x1**2)**3 =
  c**3 x0**3 x1**6. For a non-integer power this holds only when log(c b**a) = log c + a log b,
  which is true for a real c > 0 and a single factor with a real exponent a in (-1, 1]; in every
  other case the monomial stays a base, so (x0**2)**(1/2) is printed as written and is not
  shortened to x0 (the network computes |x0| there).
- A sum raised to a positive integer power up to `MAX_EXPANDED_POWER` is expanded, so the
  network for (x0 + x1)**3 prints x0**3 + 3*x0**2*x1 + 3*x0*x1**2 + x1**3. Other powers of a
  sum keep the sum as a base: 1/(x0 + x1), sqrt(x0 + x1), (x0 + x1)**7.

Printing: integral coefficients as integers and simple fractions as fractions. Coefficients of
the form p/q * pi**k * e**m with small k and m name pi and e. A value is printed as complex only
when its imaginary part exceeds 1e-13 of its modulus. A negative exponent is printed as a
division, an exponent of 1/2 as sqrt, a coefficient 1 is omitted and -1 becomes a minus sign.
Fractional powers follow the principal branch, as in the network.
"""

import cmath
import math
from dataclasses import dataclass, field
from fractions import Fraction

MAX_EXPANDED_POWER = 4  # sums raised to larger positive integer powers stay factored
MAX_EXPANDED_TERMS = 200  # and so do expansions that would produce more terms than this
CANCEL_TOLERANCE = 1e-12  # relative size below which a merged coefficient counts as zero
IMAGINARY_TOLERANCE = 1e-13  # relative size below which an imaginary part is printed as real
MATCH_TOLERANCE = 1e-12  # relative distance within which a float is read as p/q * pi**k * e**m
MAX_DENOMINATOR = 1000

_PI_POWERS = (0, 1, -1, 2, -2, 3, -3)
_E_POWERS = (0, 1, -1, 2, -2)


# ---------------------------------------------------------------- numbers


def clean_number(value):
    """Return `value` as a complex number with tiny imaginary parts and near-simple reals snapped.

    A real part within MATCH_TOLERANCE (relative) of a fraction with denominator up to
    MAX_DENOMINATOR is replaced by that fraction's float, so that exponents such as 1/3 * 3 meet
    exactly at 1 and merge.
    """
    value = complex(value)
    real, imag = value.real, value.imag
    if abs(imag) <= IMAGINARY_TOLERANCE * abs(value):
        imag = 0.0
    if abs(real) <= IMAGINARY_TOLERANCE * abs(value):
        real = 0.0
    return complex(_snap_fraction(real), _snap_fraction(imag))


def _snap_fraction(x):
    if x == 0 or not math.isfinite(x):
        return x
    fraction = Fraction(x).limit_denominator(MAX_DENOMINATOR)
    if fraction != 0 and abs(float(fraction) - x) <= MATCH_TOLERANCE * abs(x):
        return float(fraction)
    return x


def is_integer(value):
    """Return True when `value` is real and integral (after `clean_number`)."""
    value = complex(value)
    return value.imag == 0 and math.isfinite(value.real) and value.real == int(value.real)


def is_real(value):
    """Return True when the imaginary part of `value` is negligible (see IMAGINARY_TOLERANCE)."""
    value = complex(value)
    return abs(value.imag) <= IMAGINARY_TOLERANCE * abs(value)


@dataclass(frozen=True)
class RealForm:
    """A real number written as sign * fraction * pi**pi_power * e**e_power, or as a plain float.

    `fraction` is a positive Fraction, or None when the number matched no simple form; then
    `decimal` is its magnitude.
    """

    negative: bool
    fraction: Fraction | None
    pi_power: int = 0
    e_power: int = 0
    decimal: float = 0.0


def real_form(x):
    """Write the real number x as ± p/q * pi**k * e**m where that fits within MATCH_TOLERANCE."""
    negative = x < 0
    magnitude = abs(x)
    if magnitude == 0:
        return RealForm(False, Fraction(0))
    if not math.isfinite(magnitude):
        return RealForm(negative, None, decimal=magnitude)
    for k in _PI_POWERS:
        for m in _E_POWERS:
            scaled = magnitude / (math.pi**k * math.e**m)
            fraction = Fraction(scaled).limit_denominator(MAX_DENOMINATOR)
            if fraction == 0 or fraction.numerator > 10**9:
                continue
            if abs(float(fraction) - scaled) <= MATCH_TOLERANCE * scaled:
                return RealForm(negative, fraction, k, m)
    return RealForm(negative, None, decimal=magnitude)


def _format_real_factors(form, pi_name="pi", power_template="{name}**{power}"):
    """Return (numerator factors, denominator factors) of a RealForm's magnitude as text.

    `pi_name` and `power_template` let other notations (LaTeX) reuse the same factoring.
    """
    if form.fraction is None:
        return [repr(form.decimal) if math.isfinite(form.decimal) else "inf"], []
    numerator, denominator = [], []
    if form.fraction.numerator != 1:
        numerator.append(str(form.fraction.numerator))
    if form.fraction.denominator != 1:
        denominator.append(str(form.fraction.denominator))
    for name, power in ((pi_name, form.pi_power), ("e", form.e_power)):
        if power == 0:
            continue
        text = name if abs(power) == 1 else power_template.format(name=name, power=abs(power))
        (numerator if power > 0 else denominator).append(text)
    return numerator, denominator


def format_number(value):
    """Format a number as it would appear alone: 3, -1/2, pi/4, 2*e, 0.1234, (1+2j)."""
    value = complex(value)
    if not is_real(value):
        return f"({_plain(value.real)}{'-' if value.imag < 0 else '+'}{_plain(abs(value.imag))}j)"
    form = real_form(value.real)
    if form.fraction == 0:
        return "0"
    numerator, denominator = _format_real_factors(form)
    text = _join_fraction(numerator, denominator)
    return "-" + text if form.negative else text


def _plain(x):
    """Format a float without a trailing .0 when it is integral."""
    return str(int(x)) if x == int(x) and abs(x) < 1e15 else repr(x)


def _join_fraction(numerator, denominator):
    text = "*".join(numerator) if numerator else "1"
    if len(denominator) == 1:
        text += "/" + denominator[0]
    elif denominator:
        text += "/(" + "*".join(denominator) + ")"
    return text


def complex_power(base, exponent):
    """Return base**exponent on the principal branch, exactly by repeated products for integers."""
    base, exponent = complex(base), complex(exponent)
    if is_integer(exponent) and abs(exponent.real) <= 64:
        return base ** int(exponent.real)
    if base == 0:
        return 0j if exponent.real > 0 else complex(math.inf, 0.0)
    return cmath.exp(exponent * cmath.log(base + 0.0))


# ---------------------------------------------------------------- expressions


def _number_key(value):
    value = complex(value)
    return (round(value.real, 12), round(value.imag, 12))


@dataclass(frozen=True, eq=False)
class Group:
    """A sub-expression used as the base of a power, such as the sum in (x0 + x1)**-1.

    Two groups are equal when their terms match after rounding coefficients to 12 decimals.
    """

    expression: tuple  # ((monomial, coefficient), ...) sorted by monomial_key
    key: tuple = field(default=())

    @staticmethod
    def of(expression):
        terms = tuple(sorted(expression.items(), key=lambda item: monomial_key(item[0])))
        key = tuple((monomial_key(monomial), _number_key(c)) for monomial, c in terms)
        return Group(terms, key)

    def as_dict(self):
        return dict(self.expression)

    def __eq__(self, other):
        return isinstance(other, Group) and self.key == other.key

    def __hash__(self):
        return hash(self.key)


def base_key(base):
    """Sort key of a base: inputs in index order, then groups."""
    if isinstance(base, Group):
        return (1, 0, base.key)
    return (0, base, ())


def monomial_key(monomial):
    """Sort key of a monomial: by inputs in index order, higher powers first, constants last."""
    factors = tuple((base_key(base), -complex(e).real, -complex(e).imag) for base, e in monomial)
    return (len(monomial) == 0, factors)


def _make_monomial(exponents):
    """Build a canonical monomial from {base: exponent}, dropping zero exponents."""
    factors = [(base, clean_number(e)) for base, e in exponents.items()]
    factors = [(base, e) for base, e in factors if e != 0]
    return tuple(sorted(factors, key=lambda factor: base_key(factor[0])))


def variable(index):
    """Return the expression of input `index` alone."""
    return {((index, 1 + 0j),): 1 + 0j}


def constant(value):
    """Return the expression of a constant (the empty dict for 0)."""
    value = complex(value)
    return {} if value == 0 else {(): value}


def add_scaled(terms):
    """Return Σ w * expression over (w, expression) pairs, merging like terms.

    A merged coefficient whose modulus is at most CANCEL_TOLERANCE times the largest
    contribution to it is dropped: it is the round-off of an exact cancellation.
    """
    total, scale = {}, {}
    for weight, expression in terms:
        if weight == 0:
            continue
        for monomial, coefficient in expression.items():
            contribution = weight * coefficient
            total[monomial] = total.get(monomial, 0j) + contribution
            scale[monomial] = max(scale.get(monomial, 0.0), abs(contribution))
    return {
        monomial: clean_number(c)
        for monomial, c in total.items()
        if abs(c) > CANCEL_TOLERANCE * scale[monomial]
    }


def _multiply_monomials(a, b):
    exponents = dict(a)
    for base, e in b:
        exponents[base] = exponents.get(base, 0j) + e
    return _make_monomial(exponents)


def multiply(a, b):
    """Return the product of two expressions, distributed and with like terms merged."""
    products = []
    for monomial_a, c_a in a.items():
        for monomial_b, c_b in b.items():
            products.append((c_a * c_b, {_multiply_monomials(monomial_a, monomial_b): 1 + 0j}))
    return add_scaled(products)


def _combinable(coefficient, monomial):
    """True when (c * b**a)**p = c**p * b**(a*p) holds for every non-integer p (principal branch)."""
    if not (is_real(coefficient) and coefficient.real > 0):
        return False
    if len(monomial) == 0:
        return True
    if len(monomial) > 1:
        return False
    exponent = monomial[0][1]
    return is_real(exponent) and -1 < exponent.real <= 1


def power(expression, exponent):
    """Return expression**exponent following the rules in the module docstring."""
    exponent = clean_number(exponent)
    if exponent == 0:
        return constant(1)
    if not expression:
        # The network's limit of 0**p: 0 for Re p > 0, complex infinity otherwise.
        return {} if exponent.real > 0 else constant(complex(math.inf, 0.0))

    if len(expression) == 1:
        (monomial, coefficient), = expression.items()
        if not monomial:
            return constant(clean_number(complex_power(coefficient, exponent)))
        if is_integer(exponent) or _combinable(coefficient, monomial):
            exponents = {base: e * exponent for base, e in monomial}
            return {_make_monomial(exponents): clean_number(complex_power(coefficient, exponent))}
        return {((Group.of(expression), exponent),): 1 + 0j}

    n = int(exponent.real) if is_integer(exponent) else 0
    if 1 <= n <= MAX_EXPANDED_POWER and len(expression) ** n <= MAX_EXPANDED_TERMS:
        result = expression
        for _ in range(n - 1):
            result = multiply(result, expression)
        return result
    return {((Group.of(expression), exponent),): 1 + 0j}


def layer_expressions(kind, M, inputs):
    """Return the expressions of a layer's outputs given the expressions of its inputs."""
    outputs = []
    for row in M:
        if kind == "CALUa":
            outputs.append(add_scaled(zip((complex(w) for w in row), inputs)))
        elif kind == "CALUm":
            result = constant(1)
            for weight, expression in zip(row, inputs):
                if weight != 0:
                    result = multiply(result, power(expression, weight))
            outputs.append(result)
        else:
            raise ValueError(f"unknown layer kind {kind!r}: expected CALUa or CALUm")
    return outputs


def network_expressions(Ms, layer_kinds):
    """Return one expression per network output for total weights Ms (one (n_out, n_in) array per layer)."""
    if len(Ms) != len(layer_kinds):
        raise ValueError(f"got {len(Ms)} weight arrays for {len(layer_kinds)} layer kinds")
    if not Ms:
        raise ValueError("the network has no layers")
    expressions = [variable(j) for j in range(len(Ms[0][0]))]
    for kind, M in zip(layer_kinds, Ms):
        if len(M[0]) != len(expressions):
            raise ValueError(f"a {kind} layer takes {len(M[0])} inputs but the layer before gives {len(expressions)}")
        expressions = layer_expressions(kind, M, expressions)
    return expressions


def sorted_terms(expression):
    """Return the (monomial, coefficient) pairs in printing order."""
    return sorted(expression.items(), key=lambda item: monomial_key(item[0]))


# ---------------------------------------------------------------- text


def _format_exponent(exponent):
    text = format_number(exponent)
    if text.isalnum() or text.startswith("("):
        return text
    return f"({text})"


def _format_power(base_text, exponent):
    """Format base**exponent for a positive real or complex exponent."""
    if exponent == 1:
        return base_text
    if exponent == 0.5:
        inner = base_text[1:-1] if base_text.startswith("(") else base_text
        return f"sqrt({inner})"
    return f"{base_text}**{_format_exponent(exponent)}"


def _base_text(base, names):
    if isinstance(base, Group):
        return "(" + format_expression(base.as_dict(), names) + ")"
    return names[base]


def format_term(monomial, coefficient, names):
    """Return (negative, text) for one term, with the sign taken out of the text."""
    numerator, denominator = [], []
    negative = False
    if is_real(coefficient):
        form = real_form(complex(coefficient).real)
        negative = form.negative
        numerator, denominator = _format_real_factors(form)
    else:
        numerator.append(format_number(coefficient))

    for base, exponent in monomial:
        base_text = _base_text(base, names)
        if is_real(exponent) and exponent.real < 0:
            denominator.append(_format_power(base_text, -exponent.real))
        else:
            numerator.append(_format_power(base_text, exponent.real if is_real(exponent) else exponent))
    return negative, _join_fraction(numerator, denominator)


def format_expression(expression, names):
    """Format an expression as text with the given input names, for example `a*b - c/d`."""
    if not expression:
        return "0"
    parts = []
    for i, (monomial, coefficient) in enumerate(sorted_terms(expression)):
        negative, text = format_term(monomial, coefficient, names)
        if i == 0:
            parts.append("-" + text if negative else text)
        else:
            parts.append(("- " if negative else "+ ") + text)
    return " ".join(parts)


def default_names(prefix, n):
    return [f"{prefix}{i}" for i in range(n)]


def network_formulas(Ms, layer_kinds, input_names=None, output_names=None):
    """Return one line `name = formula` per output for exact total weights Ms.

    Ms: one complex array (n_out, n_in) per layer; layer_kinds: "CALUa" or "CALUm" per layer.
    Names default to x0, x1, ... and y0, y1, ...
    """
    expressions = network_expressions(Ms, layer_kinds)
    n_inputs = len(Ms[0][0])
    input_names = default_names("x", n_inputs) if input_names is None else list(input_names)
    output_names = default_names("y", len(expressions)) if output_names is None else list(output_names)
    if len(input_names) != n_inputs:
        raise ValueError(f"got {len(input_names)} input names for {n_inputs} inputs")
    if len(output_names) != len(expressions):
        raise ValueError(f"got {len(output_names)} output names for {len(expressions)} outputs")
    return [f"{name} = {format_expression(expression, input_names)}" for name, expression in zip(output_names, expressions)]


def exact_weights(network):
    """Return the network's frozen weights if every weight is frozen, else its snapped weights."""
    if all(layer.frozen.all() for layer in network.layers):
        return [layer.fixed_M.copy() for layer in network.layers]
    return network.snapped_weights()


def formulas_of(network, input_names=None, output_names=None):
    """Return the formula lines of a Network (see `network_formulas`)."""
    kinds = [layer.kind for layer in network.layers]
    return network_formulas(exact_weights(network), kinds, input_names, output_names)
