"""Self-supervised pruning scores (Sorscher et al. 2022, SemDeDup, D4), one module per job.

- `config`    the `prune` section (PruneConfig)
- `embed`     sentence embeddings per Arrow batch, model loaded once per Python worker
- `kmeans`    spherical k-means on a sample (faiss), nearest-centroid assignment per batch
- `semdedup`  within-cluster semantic dedup, blockwise so no cluster needs an n x n matrix
- `policy`    keep fraction and keep-easy / keep-hard from data abundance, per-cluster quotas
- `theory`    the teacher-student perceptron replication that the policy rests on

The Spark program that strings them together is `curation/stages/prune/stage.py`.
"""
