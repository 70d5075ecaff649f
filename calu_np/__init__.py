"""calu_np: Complex-valued Neural Arithmetic Logic Units with a neural quantizer, in NumPy and Numba.

Backward passes carry, for every activation z, G_z = ∂L/∂z̄ = ½(∂L/∂Re z + i ∂L/∂Im z) for the
real loss L; trainable parameters are real and store dL/dφ = 2 Re(conj(G_z) ∂z/∂φ). See
docs/derivations.md for every derivative.
"""

__version__ = "0.1.0"
