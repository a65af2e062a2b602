"""The keys of the catalogue store's `meta` table, in one place (the store is a key-value table of them;
who writes each is named beside it). Keys ending in `:{}` are per model key (or text model)."""

MODEL_NAME = "model_name"  # the network the catalogue was created with (engine/lifecycle.py)
MODEL_PRECISION = "model_precision"  # fp32 or int8 (engine/lifecycle.py)
INDEX_KIND = "index_kind"  # the vector index kind (engine/lifecycle.py, engine/indexing.py)
ACTIVE_MODEL = "active_model"  # the key of the model version searches use (engine/models.py)
GENERATION = "generation"  # bumped by every write (catalog/store.py)
REDUCER = "reducer:{}"  # a model's PCA reducer ({"file", "dim", "whiten"}) (index/reduction.py)
RERANK = "rerank:{}"  # candidates re-scored exactly per query (index/live.py)
FIELDS_PENDING = "fields_pending:{}"  # products whose fields a server index must be sent again (index/live.py)
COLLECTION = "collection:{}"  # the server index collection of a model (index/live.py)
TEXT_BACKFILLED = "text_vectors_backfilled:{}"  # every product's text was embedded once with that text model
