"""The Chroma store of passage chunks. Embeddings are always passed in, never computed by Chroma."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

from rag.errors import StoreError
from rag.filters import CATEGORY_KEY
from rag.store_files import store_dir_of
from rag.types import Chunk, Paper

SCHEMA = 1                      # bump when the stored layout changes; old stores then ask for --reset
# Chroma's HNSW search explores ef_search candidates (default 100). A store opened after a second ingest had a
# graph in which the 100 did not always reach a new paper's chunk: the same query found it (cosine 0.61) in 5 of
# 8 fresh processes and missed it in 3 (tests/rag/test_live_collection.py); at 500 it was found in 8 of 8.
EF_SEARCH = 500
PAGE = 5000                     # rows per `get` page when reading the whole collection


def _chunk_metadata(chunk: Chunk, index: int, n: int, digest: str) -> dict:
    p = chunk.paper
    meta = {"paper_id": p.paper_id, "title": p.title, "chunk": index, "n_chunks": n, "hash": digest,
            "authors": p.authors, "url": p.url, "categories": p.categories}
    if p.year is not None:
        meta["year"] = p.year
    if p.date:
        meta["date"] = p.date
    categories = p.categories.split()
    if categories:                          # a list, so questions can filter with `$contains` (Chroma rejects [])
        meta[CATEGORY_KEY] = categories
    if index == 0:
        meta["abstract"] = p.abstract   # the whole abstract once per paper, for citation checks
    return meta


def paper_from_metadata(meta: dict) -> Paper:
    return Paper(paper_id=meta["paper_id"], title=meta["title"], abstract=meta.get("abstract", ""),
                 authors=meta.get("authors", ""), year=meta.get("year"), url=meta.get("url", ""),
                 categories=meta.get("categories", ""), date=meta.get("date", ""))


def open_client(path: Path | None = None, url: str = "", *, timeout_s: float = 60.0,
                connect_timeout_s: float = 5.0):
    """An embedded PersistentClient at `path`, or an HttpClient when `url` is given; telemetry off."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if url:
        return _http_client(url, settings, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s)
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except Exception as e:
        raise StoreError(f"cannot open the store at {path} ({type(e).__name__}: {e}); "
                         "rebuild it with: rag ingest --reset") from None


def _http_client(url: str, settings, *, timeout_s: float, connect_timeout_s: float):
    """A chromadb.HttpClient whose every request is time-limited; an unreachable server is one StoreError.

    chromadb 1.x builds its httpx session with timeout=None and sends a request while constructing
    the client, so a silent server would hang it: ask for the heartbeat first, with our time-outs,
    then put the same time-outs on the client's session.
    """
    from urllib.parse import urlparse

    import chromadb
    import httpx

    u = urlparse(url if "://" in url else f"http://{url}")
    if u.scheme not in ("http", "https") or not u.hostname:
        raise StoreError(f"RAG_CHROMA_URL={url!r} is not a server address; use http://HOST:PORT")
    base = f"{u.scheme}://{u.hostname}:{u.port or 8000}"
    timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
    hint = (f"start one with: chroma run --path DIR --host {u.hostname} --port {u.port or 8000}, "
            "or unset RAG_CHROMA_URL to use the embedded store")
    try:
        httpx.get(f"{base}/api/v2/heartbeat", timeout=httpx.Timeout(connect_timeout_s)).raise_for_status()
    except httpx.TimeoutException:
        raise StoreError(f"the Chroma server at {base} did not answer within {connect_timeout_s:g} s; {hint}") from None
    except httpx.HTTPStatusError as e:
        raise StoreError(f"{base} is not a Chroma 1.x server (heartbeat answered HTTP "
                         f"{e.response.status_code}); {hint}") from None
    except httpx.HTTPError as e:
        raise StoreError(f"cannot reach a Chroma server at {base} ({type(e).__name__}); {hint}") from None
    try:
        client = chromadb.HttpClient(host=u.hostname, port=u.port or 8000, ssl=u.scheme == "https",
                                     settings=settings)
    except Exception as e:
        raise StoreError(f"the Chroma server at {base} refused the client ({type(e).__name__}: {e})") from None
    client._server._session.timeout = timeout   # no public setting for it in chromadb 1.x (see docstring)
    return client


class _Guarded:
    """Forwards calls to a Chroma client or collection; a lost or silent server becomes one StoreError."""

    def __init__(self, target):
        self._target = target

    def __getattr__(self, name):
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            import httpx

            try:
                return attr(*args, **kwargs)
            except httpx.TransportError as e:   # refused, reset, or one of our time-outs
                raise StoreError(f"lost the Chroma server ({type(e).__name__} during {name}); is it still "
                                 "running? The papers written so far are kept") from None
        return call


class ChromaStore:
    """One Chroma collection of chunks; each paper's chunks are written in one call."""

    def __init__(self, client, name: str = "papers", *, embedder_name: str = "", create: bool = True):
        self.client, self.name, self.embedder_name = client, name, embedder_name
        guarded = _Guarded(client)
        try:
            self._col = _Guarded(guarded.get_or_create_collection(
                name, configuration={"hnsw": {"space": "cosine", "ef_search": EF_SEARCH}}, embedding_function=None,
                metadata={"schema": SCHEMA, "embedder": embedder_name}) if create else
                guarded.get_collection(name, embedding_function=None))
            meta = self._col.metadata or {}
        except StoreError:
            raise
        except Exception as e:
            raise StoreError(f"store collection {name!r} is unreadable ({type(e).__name__}); "
                             "rebuild it with: rag ingest --reset") from None
        if meta.get("schema") != SCHEMA:
            raise StoreError(f"store collection {name!r} is from another version (schema {meta.get('schema')}, "
                             f"need {SCHEMA}); rebuild it with: rag ingest --reset")
        if embedder_name and meta.get("embedder") not in (embedder_name, "", None):
            raise StoreError(f"store was built with embedder {meta.get('embedder')!r}, not {embedder_name!r}; "
                             "rebuild it with: rag ingest --reset")
        if create:
            self._widen_search()

    def _widen_search(self) -> None:
        """Stores made before EF_SEARCH get it too (a search setting Chroma lets change in place)."""
        hnsw = (getattr(self._col, "configuration", None) or {}).get("hnsw") or {}
        if hnsw and hnsw.get("ef_search", EF_SEARCH) < EF_SEARCH:
            self._col.modify(configuration={"hnsw": {"ef_search": EF_SEARCH}})

    # -- writing -------------------------------------------------------------------------
    def write_papers(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]],
                     hashes: dict[str, str], replace: Sequence[str] = ()) -> None:
        """Upsert the chunks of whole papers (one call); `replace` lists papers whose old chunks go first."""
        if replace:
            self._col.delete(where={"paper_id": {"$in": list(replace)}})
        counts: dict[str, int] = {}
        for c in chunks:
            counts[c.paper.paper_id] = counts.get(c.paper.paper_id, 0) + 1
        seen: dict[str, int] = {}
        metas = []
        for c in chunks:
            pid = c.paper.paper_id
            i = seen.get(pid, 0)
            seen[pid] = i + 1
            metas.append(_chunk_metadata(c, i, counts[pid], hashes[pid]))
        if chunks:
            self._col.upsert(ids=[c.chunk_id for c in chunks], embeddings=[list(e) for e in embeddings],
                             documents=[c.text for c in chunks], metadatas=metas)

    # -- reading -------------------------------------------------------------------------
    def count_chunks(self) -> int:
        return self._col.count()

    @property
    def collection_id(self) -> str:
        """Chroma's id of the collection: kept by a rename, new after a reset."""
        return str(self._col.id)

    def iter_chunks(self, documents: bool = True) -> Iterator[tuple[str, str, dict]]:
        """(chunk_id, passage, metadata) for every chunk, a page at a time (passage "" without `documents`)."""
        for page in self._pages(["documents", "metadatas"] if documents else ["metadatas"]):
            yield from zip(page["ids"], page["documents"] if documents else [""] * len(page["ids"]),
                           page["metadatas"])

    def iter_embedded_chunks(self) -> Iterator[tuple[str, str, dict, list[float]]]:
        """(chunk_id, passage, metadata, stored embedding) for every chunk, a page at a time."""
        for page in self._pages(["embeddings", "documents", "metadatas"]):
            for cid, doc, meta, emb in zip(page["ids"], page["documents"], page["metadatas"], page["embeddings"]):
                yield cid, doc, meta, [float(x) for x in emb]

    def _pages(self, include: list[str]) -> Iterator[dict]:
        offset = 0
        while True:
            page = self._col.get(limit=PAGE, offset=offset, include=include)
            if not len(page["ids"]):
                return
            yield page
            offset += len(page["ids"])

    def chunks(self, chunk_ids: Sequence[str]) -> dict[str, tuple[str, dict]]:
        """chunk_id -> (passage, metadata) for those of the ids that are in the store."""
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return {}
        res = self._col.get(ids=ids, include=["documents", "metadatas"])
        return {cid: (doc, meta) for cid, doc, meta in zip(res["ids"], res["documents"], res["metadatas"])}

    def reopen(self) -> "ChromaStore":
        """A new view of the same collection name. An embedded client keeps its vector index in memory and
        does not see what another process wrote since, so it is opened afresh; a server's view is live."""
        client, folder = self.client, store_dir_of(self.client)
        if folder is not None:
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient.clear_system_cache()     # else Chroma hands back the cached client of this path
            client = open_client(folder)
        return ChromaStore(client, self.name, embedder_name=self.embedder_name, create=False)

    def paper_hashes(self) -> dict[str, str]:
        """paper_id -> content hash of every complete paper in the store."""
        hashes, counts, expected = {}, {}, {}
        for _, _, meta in self.iter_chunks(documents=False):
            pid = meta["paper_id"]
            hashes[pid] = meta["hash"]
            counts[pid] = counts.get(pid, 0) + 1
            expected[pid] = meta["n_chunks"]
        return {pid: h for pid, h in hashes.items() if counts[pid] == expected[pid]}

    def query(self, embedding: Sequence[float], n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) of the n nearest chunks."""
        if n <= 0:      # no count() first: Chroma counts by scanning (19 ms at 284,000 chunks), and caps n itself
            return []
        res = self._col.query(query_embeddings=[list(embedding)], n_results=n, where=where, include=["distances"])
        return [(cid, 1.0 - d) for cid, d in zip(res["ids"][0], res["distances"][0])]

    def papers(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        """Full paper records (with the whole abstract) for the given ids."""
        if not paper_ids:
            return {}
        res = self._col.get(where={"$and": [{"paper_id": {"$in": list(paper_ids)}}, {"chunk": 0}]},
                            include=["metadatas"])
        return {m["paper_id"]: paper_from_metadata(m) for m in res["metadatas"]}

    # -- whole-collection swaps (for --reset) -----------------------------------------------
    def drop(self) -> None:
        _Guarded(self.client).delete_collection(self.name)

    def rename(self, new_name: str) -> None:
        self._col.modify(name=new_name)
        self.name = new_name


def staging_name(name: str) -> str:
    return f"{name}__staging"
