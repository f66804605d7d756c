"""The causal text transformer tower of CLIP.

token ids -> token embedding + positional embedding -> transformer (causal) -> ln_final
-> the end-of-text token's vector -> @ text_projection -> text embedding.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mmlens.models.transformer import Transformer

POOL_TYPES = ("argmax", "eos", "first", "last")


@dataclass
class TextConfig:
    """Architecture of the text tower (field names follow open_clip's ``text_cfg``).

    Attributes:
        context_length: maximum number of tokens (CLIP: 77).
        vocab_size: number of token ids (CLIP's BPE: 49408).
        width: token width ``d_model``.
        heads: attention heads.
        layers: transformer blocks.
        mlp_ratio: MLP hidden width as a multiple of ``width``.
        ls_init_value: LayerScale initial value, or ``None``.
        causal: causal self-attention (open_clip's ``no_causal_mask`` is ``not causal``).
        pool_type: which token represents the text: ``"argmax"`` (position of the largest token id,
            which is the end-of-text token for CLIP's tokenizer; open_clip's default), ``"eos"``
            (first position of ``eos_id``), ``"first"`` or ``"last"``.
        eos_id: end-of-text id used by ``pool_type="eos"``.
        proj_bias: the projection is a Linear with bias instead of a bare matrix.
        norm_eps: LayerNorm epsilon.
        gelu_approximate: ``"none"`` (exact GELU) or ``"tanh"``; ignored under ``quick_gelu``.
    """

    context_length: int = 77
    vocab_size: int = 49408
    width: int = 512
    heads: int = 8
    layers: int = 12
    mlp_ratio: float = 4.0
    ls_init_value: float | None = None
    causal: bool = True
    pool_type: str = "argmax"
    eos_id: int = 2
    proj_bias: bool = False
    norm_eps: float = 1e-5
    gelu_approximate: str = "none"

    def __post_init__(self) -> None:
        if self.width % self.heads != 0:
            raise ValueError(f"heads={self.heads} must divide width={self.width}")
        if self.pool_type not in POOL_TYPES:
            raise ValueError(f"pool_type must be one of {POOL_TYPES}, got {self.pool_type!r}")


def pool_text(x: torch.Tensor, tokens: torch.Tensor, pool_type: str = "argmax", eos_id: int = 2) -> torch.Tensor:
    """Pick one token vector per text.

    Args:
        x: token vectors ``(B, T, width)``.
        tokens: token ids ``(B, T)``.
        pool_type: see :class:`TextConfig`.
        eos_id: end-of-text id for ``pool_type="eos"``.

    Returns:
        ``(B, width)``.
    """
    if pool_type == "first":
        return x[:, 0]
    if pool_type == "last":
        return x[:, -1]
    if pool_type == "argmax":
        idx = tokens.argmax(dim=-1)  # (B,) the end-of-text token has the largest id in CLIP's vocabulary
    elif pool_type == "eos":
        idx = (tokens == eos_id).int().argmax(dim=-1)  # (B,) first eos position
    else:
        raise ValueError(f"pool_type must be one of {POOL_TYPES}, got {pool_type!r}")
    return x[torch.arange(x.shape[0], device=x.device), idx]  # (B, width)


class TextTransformer(nn.Module):
    """Text encoder with a projection to the shared embedding space.

    Parameter names follow open_clip's text tower (``token_embedding``, ``positional_embedding``,
    ``ln_final``, ``text_projection``).

    Args:
        config: the architecture.
        embed_dim: width of the shared image-text embedding space.
        quick_gelu: use QuickGELU in the MLPs (OpenAI checkpoints).
    """

    def __init__(self, config: TextConfig, embed_dim: int, quick_gelu: bool = False) -> None:
        super().__init__()
        self.config = config
        width = config.width
        self.token_embedding = nn.Embedding(config.vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(config.context_length, width))
        self.transformer = Transformer(
            width,
            config.layers,
            config.heads,
            mlp_ratio=config.mlp_ratio,
            ls_init_value=config.ls_init_value,
            quick_gelu=quick_gelu,
            norm_eps=config.norm_eps,
            gelu_approximate=config.gelu_approximate,
        )
        self.ln_final = nn.LayerNorm(width, eps=config.norm_eps)
        if config.proj_bias:
            self.text_projection: nn.Module | nn.Parameter = nn.Linear(width, embed_dim)
        else:
            self.text_projection = nn.Parameter(torch.empty(width, embed_dim))
        self.init_parameters()

    def init_parameters(self) -> None:
        """open_clip's (and OpenAI's) initialisation of the text tower."""
        width, layers = self.config.width, self.config.layers
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        proj_std = width**-0.5 * (2 * layers) ** -0.5
        for block in self.transformer.blocks:
            nn.init.normal_(block.attn.in_proj.weight, std=width**-0.5)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=(2 * width) ** -0.5)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
        if isinstance(self.text_projection, nn.Linear):
            nn.init.normal_(self.text_projection.weight, std=width**-0.5)
            nn.init.zeros_(self.text_projection.bias)
        else:
            nn.init.normal_(self.text_projection, std=width**-0.5)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token ids ``(B, T)`` -> token vectors plus positions ``(B, T, width)``."""
        if tokens.ndim != 2 or tokens.shape[1] > self.config.context_length:
            raise ValueError(
                f"tokens must have shape (B, T <= {self.config.context_length}), got {tuple(tokens.shape)}; "
                "tokenize with the model's context_length"
            )
        T = tokens.shape[1]
        x = self.token_embedding(tokens)  # (B, T, width)
        return x + self.positional_embedding[:T].to(x.dtype)

    def project(self, pooled: torch.Tensor) -> torch.Tensor:
        """Pooled ``(B, width)`` -> ``(B, embed_dim)``."""
        if isinstance(self.text_projection, nn.Linear):
            return self.text_projection(pooled)
        return pooled @ self.text_projection

    def forward_with_attention(self, tokens: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Encode texts and return every block's attention weights (manual attention path).

        Args:
            tokens: token ids ``(B, T)``.

        Returns:
            ``(text_emb, weights)``: ``text_emb`` is ``(B, embed_dim)`` (not normalised);
            ``weights`` holds one ``(B, heads, T, T)`` tensor per block.
        """
        x, weights = self.transformer(self.embed(tokens), is_causal=self.config.causal, need_weights=True)
        x = self.ln_final(x)  # (B, T, width)
        pooled = pool_text(x, tokens, self.config.pool_type, self.config.eos_id)
        return self.project(pooled), weights

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Encode token ids ``(B, T)`` into ``(B, embed_dim)`` (not normalised), fused attention."""
        x, _ = self.transformer(self.embed(tokens), is_causal=self.config.causal)  # (B, T, width)
        x = self.ln_final(x)
        pooled = pool_text(x, tokens, self.config.pool_type, self.config.eos_id)  # (B, width)
        return self.project(pooled)  # (B, embed_dim)
