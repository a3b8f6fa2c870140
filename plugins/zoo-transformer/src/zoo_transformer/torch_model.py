"""Plain ``nn.Module`` transformers for token and series windows (no Lightning, no zoo).

GPT-2's pre-norm block as nanoGPT writes it (Radford et al. 2019; Karpathy,
github.com/karpathy/nanoGPT ``model.py``): ``x + Attention(LayerNorm(x))``, then
``x + MLP(LayerNorm(x))``, with learned position embeddings and a final LayerNorm. Attention
is :func:`torch.nn.functional.scaled_dot_product_attention`, causal or bidirectional. Three
forms share that trunk:

- :class:`CausalTransformer`: output ``t`` sees inputs ``0..t`` only (next-step prediction);
- :class:`TransformerEncoder`: bidirectional, mean-pooled to one vector per window;
- :class:`TransformerDecoder`: a vector to a whole series window, bidirectional.

Text inputs are int64 ids ``(N, T)``, series inputs float values ``(N, T, C)``; any
``T`` up to the length ``L`` the positions were built for.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh,
                                           "leaky_relu": nn.LeakyReLU}
#: Standard deviation of the initial weights (GPT-2, nanoGPT).
INIT_STD = 0.02


class SelfAttention(nn.Module):
    """Multi-head self-attention through ``scaled_dot_product_attention``.

    Args:
        dim: Width of the residual stream; a multiple of ``heads``.
        heads: Attention heads, each of width ``dim // heads``.
        dropout: Dropout on the attention weights and on the output.
        bias: Bias terms in the projections.
        causal: Step ``t`` attends to steps ``0..t`` only.
    """

    def __init__(self, dim: int, heads: int, dropout: float, bias: bool, causal: bool) -> None:
        super().__init__()
        self.heads, self.dropout, self.causal = heads, dropout, causal
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)
        self.residual_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, dim = x.shape
        # (N, T, 3 * dim) -> three (N, heads, T, dim // heads)
        q, k, v = self.qkv(x).view(n, t, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.residual_dropout(self.proj(y.transpose(1, 2).reshape(n, t, dim)))


class Block(nn.Module):
    """``x + Attention(LayerNorm(x))``, then ``x + MLP(LayerNorm(x))``; the MLP is
    ``Linear(dim, 4 dim) -> activation -> Linear(4 dim, dim) -> Dropout``.

    Args:
        dim: Width of the residual stream.
        heads: Attention heads.
        dropout: Attention and residual dropout.
        bias: Bias terms in the linear layers and the layer norms.
        activation: The MLP's nonlinearity (GPT-2: ``gelu``).
        causal: Causal attention.
    """

    def __init__(self, dim: int, heads: int, dropout: float, bias: bool, activation: str,
                 causal: bool) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(dim, bias=bias)
        self.attention = SelfAttention(dim, heads, dropout, bias, causal)
        self.mlp_norm = nn.LayerNorm(dim, bias=bias)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim, bias=bias), ACTIVATIONS[activation](),
                                 nn.Linear(4 * dim, dim, bias=bias), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.attention_norm(x))
        return x + self.mlp(self.mlp_norm(x))


class Trunk(nn.Module):
    """Learned positions, dropout, the blocks and a final LayerNorm:
    embeddings ``(N, T, dim)`` to features ``(N, T, dim)``, ``T <= length``.

    Args:
        length: Number of learned positions ``L``.
        dim: Width of the residual stream.
        layers: Number of blocks.
        heads: Attention heads per block.
        dropout: Embedding, attention and residual dropout.
        bias: Bias terms in the linear layers and the layer norms.
        activation: The MLP's nonlinearity.
        causal: Causal attention in every block.
    """

    def __init__(self, length: int, dim: int, layers: int, heads: int, dropout: float,
                 bias: bool, activation: str, causal: bool) -> None:
        super().__init__()
        self.length = length
        self.positions = nn.Embedding(length, dim)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(dim, heads, dropout, bias, activation, causal)
                                    for _ in range(layers))
        self.norm = nn.LayerNorm(dim, bias=bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        steps = h.shape[1]
        if steps > self.length:
            raise ValueError(f"{steps} steps exceed the {self.length} learned positions")
        h = self.dropout(h + self.positions.weight[:steps])
        for block in self.blocks:
            h = block(h)
        return self.norm(h)


def input_layer(dim: int, bias: bool, tokens: int | None, channels: int | None) -> nn.Module:
    """Token embedding of ``tokens`` rows (text), or a linear map of ``channels`` values per
    step (series)."""
    if (tokens is None) == (channels is None):
        raise ValueError("give exactly one of tokens (text) and channels (series)")
    if tokens is not None:
        return nn.Embedding(tokens, dim)
    return nn.Linear(int(channels or 0), dim, bias=bias)


def initialize(module: nn.Module, layers: int) -> None:
    """GPT-2's initialisation (as nanoGPT): linear and embedding weights ~ N(0, 0.02), zero
    biases, and the projections that write into the residual stream (attention output,
    MLP output) ~ N(0, 0.02 / sqrt(2 layers)), so the stream's variance does not grow with
    depth."""
    for child in module.modules():
        if isinstance(child, nn.Linear | nn.Embedding):
            nn.init.normal_(child.weight, std=INIT_STD)
        if isinstance(child, nn.Linear) and child.bias is not None:
            nn.init.zeros_(child.bias)
    for child in module.modules():
        if isinstance(child, Block):
            for projection in (child.attention.proj, child.mlp[2]):
                nn.init.normal_(projection.weight, std=INIT_STD / math.sqrt(2 * layers))


class CausalTransformer(nn.Module):
    """Causal next-step network: inputs ``(N, T)`` ids or ``(N, T, C)`` values to
    ``(N, T, out_dim)``, output ``t`` depending on inputs ``0..t`` only.

    Text embeds ``vocab_size + 1`` tokens: the extra id ``vocab_size`` is the start symbol a
    window's first step is predicted from. When the output is the next token
    (``out_dim == vocab_size``) the head is tied to the embedding (Press & Wolf 2017,
    https://arxiv.org/abs/1608.05859; GPT-2 and nanoGPT's ``lm_head.weight = wte.weight``):
    the logits are ``features @ embedding[:vocab_size].T``. The start symbol is never a
    target, so its row is left out of the head and learns through the input side only. The
    tie is one parameter, not two names for it: the state dict holds it once (safetensors
    refuses tensors that share memory).

    Args:
        length: Window length ``L`` (learned positions).
        out_dim: Outputs per step.
        vocab_size: Text: the vocabulary (ids ``0..vocab_size``, the last the start symbol).
        channels: Series: values per step.
        layers: Number of blocks.
        heads: Attention heads per block.
        dim: Width of the residual stream; a multiple of ``heads``.
        dropout: Embedding, attention and residual dropout.
        bias: Bias terms in the linear layers and the layer norms.
        activation: The MLP's nonlinearity.
    """

    def __init__(self, length: int, out_dim: int, *, vocab_size: int | None = None,
                 channels: int | None = None, layers: int = 4, heads: int = 4, dim: int = 128,
                 dropout: float = 0.0, bias: bool = False, activation: str = "gelu") -> None:
        super().__init__()
        tokens = None if vocab_size is None else vocab_size + 1
        self.inputs = input_layer(dim, bias, tokens, channels)
        self.trunk = Trunk(length, dim, layers, heads, dropout, bias, activation, causal=True)
        self.tied = vocab_size is not None and out_dim == vocab_size
        self.out_dim = out_dim
        self.head = None if self.tied else nn.Linear(dim, out_dim, bias=bias)
        initialize(self, layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.trunk(self.inputs(x))
        if self.head is not None:
            return self.head(features)
        return F.linear(features, self.inputs.weight[:self.out_dim])


class TransformerEncoder(nn.Module):
    """Bidirectional encoder: windows ``(N, T)`` ids below ``vocab_size`` or ``(N, T, C)``
    values to ``(N, out_dim)``: the trunk's features averaged over the steps, then a linear
    layer.

    Args:
        length: Window length ``L`` (learned positions).
        out_dim: Output features.
        vocab_size: Text: the vocabulary.
        channels: Series: values per step.
        layers: Number of blocks.
        heads: Attention heads per block.
        dim: Width of the residual stream; a multiple of ``heads``.
        dropout: Embedding, attention and residual dropout.
        bias: Bias terms in the linear layers and the layer norms.
        activation: The MLP's nonlinearity.
    """

    def __init__(self, length: int, out_dim: int, *, vocab_size: int | None = None,
                 channels: int | None = None, layers: int = 4, heads: int = 4, dim: int = 128,
                 dropout: float = 0.0, bias: bool = False, activation: str = "gelu") -> None:
        super().__init__()
        self.inputs = input_layer(dim, bias, vocab_size, channels)
        self.trunk = Trunk(length, dim, layers, heads, dropout, bias, activation, causal=False)
        self.head = nn.Linear(dim, out_dim, bias=bias)
        initialize(self, layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(self.inputs(x)).mean(1))


class TransformerDecoder(nn.Module):
    """Series decoder: ``(N, in_dim)`` to windows ``(N, L, C)``. A linear layer makes
    ``L x dim`` features, to which the trunk adds positions before its bidirectional blocks;
    a last linear layer maps each step to ``C`` values (raw: no output activation).

    Args:
        in_dim: Input features (a code or latent vector).
        length: Window length ``L``.
        channels: Values per step ``C``.
        layers: Number of blocks.
        heads: Attention heads per block.
        dim: Width of the residual stream; a multiple of ``heads``.
        dropout: Embedding, attention and residual dropout.
        bias: Bias terms in the linear layers and the layer norms.
        activation: The MLP's nonlinearity.
    """

    def __init__(self, in_dim: int, length: int, channels: int, *, layers: int = 4,
                 heads: int = 4, dim: int = 128, dropout: float = 0.0, bias: bool = False,
                 activation: str = "gelu") -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(in_dim, length * dim, bias=bias),
                                     nn.Unflatten(1, (length, dim)))
        self.trunk = Trunk(length, dim, layers, heads, dropout, bias, activation, causal=False)
        self.output = nn.Linear(dim, channels, bias=bias)
        initialize(self, layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.output(self.trunk(self.project(z)))
