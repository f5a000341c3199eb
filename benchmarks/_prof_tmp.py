import cProfile, pstats, time, numpy as np, torch, scvi
from scipy import sparse
from _common import set_threads
import scssl
set_threads()
b = scssl.data.baron_pancreas()
b.X = sparse.csr_matrix(b.X, dtype=np.float32)
scssl.model.MaskedAE.setup_anndata(b)
m = scssl.model.MaskedAE(b)
m.train(max_epochs=1, batch_size=128, train_size=1.0, enable_progress_bar=False)
pr = cProfile.Profile(); pr.enable(); t=time.perf_counter()
m.train(max_epochs=2, batch_size=128, train_size=1.0, enable_progress_bar=False)
print("cells/s", 2*b.n_obs/(time.perf_counter()-t))
pr.disable(); pstats.Stats(pr).sort_stats("tottime").print_stats(25)
