"""Figures for the book: one look, one helper per kind of plot."""
from mmlens.viz.basic import plot_matrix, plot_patch_grid, plot_patch_sequence, plot_tokens, show_image
from mmlens.viz.style import apply_style

__all__ = ["apply_style", "show_image", "plot_patch_grid", "plot_patch_sequence", "plot_tokens", "plot_matrix"]
