"""The peer of the training benchmark: the `implicit` library's item-item cosine recommender
fitted from the same interactions CSV. Prints one JSON line: load and fit seconds."""
import json
import sys
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
from implicit.nearest_neighbours import CosineRecommender

started = time.perf_counter()
df = pd.read_csv(sys.argv[1], usecols=["USER_ID", "ITEM_ID"], dtype=str)
users = df["USER_ID"].astype("category")
items = df["ITEM_ID"].astype("category")
matrix = sp.csr_matrix(
    (np.ones(len(df), dtype=np.float32), (users.cat.codes.values, items.cat.codes.values)),
    shape=(len(users.cat.categories), len(items.cat.categories)),
)
matrix.data[:] = 1.0  # repeated interactions count once
loaded = time.perf_counter()
model = CosineRecommender(K=int(sys.argv[2]) if len(sys.argv) > 2 else 100)
model.fit(matrix, show_progress=False)
fitted = time.perf_counter()
print(json.dumps({"loadSeconds": round(loaded - started, 2), "fitSeconds": round(fitted - loaded, 2)}))
