"""CUDA graphs for a batched forward: capture once per batch-size bucket, replay per frame.

On a GPU a top-down pose model is launch-bound: thousands of small kernels, so the forward costs
about the same for 1 or 20 crops, and most of it is the CPU issuing kernels. A captured CUDA graph
replays all of them with one launch. Graphs need static shapes, so the batch is padded up to a
bucket (1, 2, 4, 8, 16, 32 by default) and one graph per bucket is captured the first time that
bucket is needed (all buckets share one memory pool); ``PoseEstimator.warmup(max_persons=...)``
triggers every capture up front, which the node does at start-up. Batches above the largest bucket
run eagerly.

If a capture fails (an op that synchronises with the host, say), the runner logs why once and falls
back to eager execution for good, so enabling graphs can never break the pipeline.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence, Tuple

import torch

log = logging.getLogger(__name__)

DEFAULT_BUCKETS = (1, 2, 4, 8, 16, 32)


class GraphedForward:
    """``fn(x) -> tuple of tensors`` (batch first), replayed from CUDA graphs on CUDA inputs.

    ``x`` has shape ``(N, *tail)``; every call with the same ``tail`` and dtype reuses the graphs.
    Outputs of a replay are views of static buffers: valid until the next call (copy them to the
    host before calling again, as the backends do). On a non-CUDA device it is just ``fn``.
    """

    def __init__(
        self,
        fn: Callable[[torch.Tensor], Tuple[torch.Tensor, ...]],
        device,
        buckets: Sequence[int] = DEFAULT_BUCKETS,
        enabled: bool = True,
        warmup_iters: int = 2,
    ):
        self.fn = fn
        self.device = torch.device(device)
        self.buckets = tuple(sorted(int(b) for b in buckets))
        self.enabled = bool(enabled) and self.device.type == 'cuda'
        self.warmup_iters = int(warmup_iters)
        self._graphs = {}  # (bucket, tail, dtype) -> (graph, static_in, static_outs)
        self._pool = None
        self.failed = ''  # why capture failed ('' = it did not)

    def bucket(self, n: int) -> int:
        for b in self.buckets:
            if b >= n:
                return b
        return 0

    def _capture(self, key, x_like: torch.Tensor):
        static_in = torch.zeros_like(x_like)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):  # warm-up outside the graph (cuDNN autotune, allocations)
            for _ in range(self.warmup_iters):
                self.fn(static_in)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self._pool):
            outs = self.fn(static_in)
        if self._pool is None:
            self._pool = graph.pool()
        outs = tuple(outs) if isinstance(outs, (tuple, list)) else (outs,)
        self._graphs[key] = (graph, static_in, outs)
        return self._graphs[key]

    def __call__(self, x: torch.Tensor):
        n = x.shape[0]
        b = self.bucket(n) if self.enabled and x.is_cuda else 0
        if not b:
            outs = self.fn(x)
            return tuple(outs) if isinstance(outs, (tuple, list)) else (outs,)
        key = (b, tuple(x.shape[1:]), x.dtype)
        entry = self._graphs.get(key)
        if entry is None:
            try:
                entry = self._capture(key, x.new_zeros((b, *x.shape[1:])))
            except Exception as e:  # noqa: BLE001 -- any capture problem: run eagerly from now on
                self.enabled = False
                self.failed = f'{type(e).__name__}: {e}'
                log.warning('CUDA graph capture failed, running eagerly: %s', self.failed)
                torch.cuda.synchronize(self.device)
                outs = self.fn(x)
                return tuple(outs) if isinstance(outs, (tuple, list)) else (outs,)
        graph, static_in, outs = entry
        static_in[:n].copy_(x)
        if n < b:
            static_in[n:].zero_()
        graph.replay()
        return tuple(o[:n] for o in outs)

    @property
    def captured(self) -> int:
        """How many graphs are captured."""
        return len(self._graphs)
