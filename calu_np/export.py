"""Export a fitted law as text, LaTeX, a self-contained NumPy function or a SymPy expression.

Every form is rendered from the symbolic expressions of `calu_np.formula` plus an optional real
scale per output, so all forms describe the same law: y_k = scale_k * expression_k.
Fractional powers follow the principal branch of the complex logarithm, as the network does;
the Python form evaluates them on complex numbers for that reason and returns the real part,
which is what `CALURegressor.predict` returns.
"""

import keyword
import re

from .formula import (
    Group,
    _format_real_factors,
    format_expression,
    is_integer,
    is_real,
    real_form,
    sorted_terms,
)

EMIT_KINDS = ("text", "latex", "python", "sympy")


def _scaled_text(text, scale, render_number):
    if scale == 1:
        return text
    if text == "0":
        return "0"
    return f"{render_number(scale)}*({text})"


# ---------------------------------------------------------------- text


def emit_text(expressions, scales, input_names, output_names):
    lines = []
    for name, expression, scale in zip(output_names, expressions, scales):
        text = _scaled_text(format_expression(expression, input_names), scale, repr)
        lines.append(f"{name} = {text}")
    return "\n".join(lines)


# ---------------------------------------------------------------- LaTeX


_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "theta", "lambda", "mu", "nu", "rho",
          "sigma", "tau", "phi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Sigma", "Phi", "Omega"}


def latex_name(name):
    """Write a column name as a LaTeX symbol: `alpha` as \\alpha, `px1` as p_{x1}-free text."""
    if name in _GREEK:
        return "\\" + name
    match = re.fullmatch(r"([A-Za-z])_?(\d+)", name)
    if match:
        return f"{match.group(1)}_{{{match.group(2)}}}"
    if len(name) == 1:
        return name
    return "\\mathrm{" + name.replace("_", "\\_") + "}"


def _latex_real_factors(form):
    return _format_real_factors(form, pi_name="\\pi", power_template="{name}^{{{power}}}")


def _latex_number(value):
    value = complex(value)
    if not is_real(value):
        return f"({value.real!r} {'-' if value.imag < 0 else '+'} {abs(value.imag)!r} i)"
    form = real_form(value.real)
    numerator, denominator = _latex_real_factors(form)
    top = " ".join(numerator) if numerator else "1"
    text = f"\\frac{{{top}}}{{{' '.join(denominator)}}}" if denominator else top
    return "-" + text if form.negative else text


def _latex_power(base, exponent):
    if exponent == 1:
        return base
    if exponent == 0.5:
        return f"\\sqrt{{{base}}}"
    return f"{base}^{{{_latex_number(exponent)}}}"


def latex_expression(expression, names):
    if not expression:
        return "0"
    parts = []
    for i, (monomial, coefficient) in enumerate(sorted_terms(expression)):
        numerator, denominator, negative = [], [], False
        if is_real(coefficient):
            form = real_form(complex(coefficient).real)
            negative = form.negative
            numerator, denominator = _latex_real_factors(form)
        else:
            numerator.append(_latex_number(coefficient))
        for base, exponent in monomial:
            if isinstance(base, Group):
                base_text = "\\left(" + latex_expression(base.as_dict(), names) + "\\right)"
            else:
                base_text = latex_name(names[base])
            if is_real(exponent) and exponent.real < 0:
                denominator.append(_latex_power(base_text, -exponent.real))
            else:
                numerator.append(_latex_power(base_text, exponent.real if is_real(exponent) else exponent))
        top = " ".join(numerator) if numerator else "1"
        text = f"\\frac{{{top}}}{{{' '.join(denominator)}}}" if denominator else top
        if i == 0:
            parts.append("-" + text if negative else text)
        else:
            parts.append(("- " if negative else "+ ") + text)
    return " ".join(parts)


def emit_latex(expressions, scales, input_names, output_names):
    lines = []
    for name, expression, scale in zip(output_names, expressions, scales):
        text = latex_expression(expression, input_names)
        if scale != 1 and text != "0":
            text = f"{scale!r} \\left({text}\\right)"
        lines.append(f"{latex_name(name)} = {text}")
    return "\n".join(lines)


# ---------------------------------------------------------------- Python


def python_identifier(name, taken):
    """Turn a column name into a distinct Python identifier (invalid characters become _)."""
    identifier = re.sub(r"\W", "_", name)
    if not identifier or identifier[0].isdigit() or keyword.iskeyword(identifier):
        identifier = "x_" + identifier
    while identifier in taken:
        identifier += "_"
    taken.add(identifier)
    return identifier


def _needs_complex(expression):
    for monomial, coefficient in expression.items():
        if not is_real(coefficient):
            return True
        for base, exponent in monomial:
            if not is_integer(exponent):
                return True
            if isinstance(base, Group) and _needs_complex(base.as_dict()):
                return True
    return False


def _python_number(value):
    value = complex(value)
    if is_real(value):
        real = value.real
        return str(int(real)) if real == int(real) and abs(real) < 2**53 else repr(real)
    return f"complex({value.real!r}, {value.imag!r})"


def _python_factor(base_text, exponent):
    if is_integer(exponent):
        n = int(complex(exponent).real)
        return base_text if n == 1 else f"{base_text}**{n}"
    return f"_power({base_text}, {_python_number(exponent)})"


def python_expression(expression, names):
    """Render an expression as a NumPy-evaluable Python expression over the given identifiers.

    Negative integer powers become divisions; other powers go through `_power` (principal branch).
    """
    if not expression:
        return "0"
    terms = []
    for monomial, coefficient in sorted_terms(expression):
        numerator, denominator = [], []
        if coefficient != 1:
            numerator.append(_python_number(coefficient))
        for base, exponent in monomial:
            base_text = f"({python_expression(base.as_dict(), names)})" if isinstance(base, Group) else names[base]
            if is_integer(exponent) and complex(exponent).real < 0:
                denominator.append(_python_factor(base_text, -complex(exponent).real))
            else:
                numerator.append(_python_factor(base_text, exponent))
        text = " * ".join(numerator) if numerator else "1"
        if denominator:
            text += " / " + (denominator[0] if len(denominator) == 1 else "(" + " * ".join(denominator) + ")")
        terms.append(text)
    return " + ".join(f"({term})" if term.startswith("-") else term for term in terms)


def emit_python(expressions, scales, input_names, output_names, function_name="law"):
    taken = set(keyword.kwlist) | {"np", "_power", function_name}
    identifiers = [python_identifier(name, taken) for name in input_names]
    use_complex = any(_needs_complex(expression) for expression in expressions)
    lines = [
        "import numpy as np",
        "",
        "",
    ]
    if use_complex:
        lines += [
            "def _power(z, p):",
            '    """Principal-branch z**p; a -0.0 imaginary part is read as +0.0, as in calu_np.layers."""',
            "    z = np.asarray(z, dtype=np.complex128) + 0.0",
            "    with np.errstate(divide='ignore', invalid='ignore'):",
            "        return np.where(z == 0, np.where(np.real(p) > 0, 0.0, np.inf), np.exp(p * np.log(np.where(z == 0, 1.0, z))))",
            "",
            "",
        ]
    outputs = ", ".join(output_names)
    lines.append(f"def {function_name}({', '.join(identifiers)}):")
    lines.append(f'    """Return {outputs} for arrays of the inputs; the law found by calu-np fit."""')
    dtype = "np.complex128" if use_complex else "np.float64"
    for identifier in identifiers:
        lines.append(f"    {identifier} = np.asarray({identifier}, dtype={dtype})")
    shape = " + ".join(f"0 * {identifier}" for identifier in identifiers) or "0.0"
    results = []
    for k, (expression, scale) in enumerate(zip(expressions, scales)):
        text = python_expression(expression, identifiers)
        if scale != 1:
            text = f"{scale!r} * ({text})"
        if all(not monomial for monomial in expression):
            text = f"{text} + ({shape})"  # a constant law still returns one value per row
        lines.append(f"    out{k} = {text}")
        results.append(f"np.real(out{k})" if use_complex else f"out{k}")
    if len(results) == 1:
        lines.append(f"    return {results[0]}")
    else:
        lines.append(f"    return np.stack([{', '.join(results)}], axis=-1)")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- SymPy


def _sympy_number(value):
    import sympy

    value = complex(value)
    if not is_real(value):
        return sympy.Float(value.real) + sympy.I * sympy.Float(value.imag)
    form = real_form(value.real)
    if form.fraction is None:
        number = sympy.Float(form.decimal)
    else:
        number = sympy.Rational(form.fraction.numerator, form.fraction.denominator)
        number = number * sympy.pi**form.pi_power * sympy.E**form.e_power
    return -number if form.negative else number


def sympy_expression(expression, symbols):
    """Build a SymPy expression. Powers are built unevaluated-safe: (x**2)**(1/2) stays sqrt(x**2)."""
    import sympy

    total = sympy.Integer(0)
    for monomial, coefficient in sorted_terms(expression):
        term = _sympy_number(coefficient)
        for base, exponent in monomial:
            base_expr = sympy_expression(base.as_dict(), symbols) if isinstance(base, Group) else symbols[base]
            term = term * sympy.Pow(base_expr, _sympy_number(exponent))
        total = total + term
    return total


def sympy_expressions(expressions, scales, input_names):
    """Return (symbols, [SymPy expression per output]) with one Symbol per input name."""
    import sympy

    symbols = [sympy.Symbol(name) for name in input_names]
    results = []
    for expression, scale in zip(expressions, scales):
        result = sympy_expression(expression, symbols)
        if scale != 1:
            result = sympy.Float(scale) * result
        results.append(result)
    return symbols, results


def emit_sympy(expressions, scales, input_names, output_names):
    try:
        import sympy
    except ImportError:
        raise ValueError("--emit sympy needs SymPy: install it with pip install 'calu-np[sympy]'") from None
    _, results = sympy_expressions(expressions, scales, input_names)
    return "\n".join(f"{name} = {sympy.sstr(result)}" for name, result in zip(output_names, results))


def emit(expressions, scales, input_names, output_names, kind="text"):
    """Render the law in one of EMIT_KINDS. Raises ValueError for an unknown kind."""
    scales = [1.0] * len(expressions) if scales is None else [float(s) for s in scales]
    if kind == "text":
        return emit_text(expressions, scales, input_names, output_names)
    if kind == "latex":
        return emit_latex(expressions, scales, input_names, output_names)
    if kind == "python":
        return emit_python(expressions, scales, input_names, output_names)
    if kind == "sympy":
        return emit_sympy(expressions, scales, input_names, output_names)
    raise ValueError(f"unknown export kind {kind!r}: expected one of {', '.join(EMIT_KINDS)}")

