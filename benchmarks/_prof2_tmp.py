import numpy as np, torch, scvi
from scipy import sparse
from _common import set_threads
import scssl
from torch.profiler import profile, ProfilerActivity
set_threads()
b = scssl.data.baron_pancreas()
b.X = sparse.csr_matrix(b.X, dtype=np.float32)
scssl.model.MaskedAE.setup_anndata(b)
m = scssl.model.MaskedAE(b)
m.train(max_epochs=1, batch_size=128, train_size=1.0, enable_progress_bar=False)
with profile(activities=[ProfilerActivity.CPU]) as prof:
    m.train(max_epochs=1, batch_size=128, train_size=1.0, enable_progress_bar=False)
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))
