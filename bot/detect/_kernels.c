/* The detection core's inner loops in C: the twins of bot/detect/pykernels.py.
 *
 * Each function takes the same arguments and gives the same result as its
 * Python twin (tests/test_kernels.py compares them with hypothesis); read the
 * Python for what they mean. bot/detect/kernels.py picks C or Python once.
 *
 * Why C: a check runs these once per character, per key the automaton finds
 * or per chained occurrence, and in Python each step is a chain of bytecodes
 * and object allocations; that was most of the time of a check (bench/README.md,
 * "Matcher"). Here they are plain loops over the strings' code points.
 *
 * Inputs are checked: anything malformed raises TypeError or ValueError,
 * never crashes. Strings are read with PyUnicode_READ (any internal kind).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* A character of a spaced script (normalize.SPACED: 0-9, a-z, U+00C0..U+024F). */
static inline int
is_spaced(Py_UCS4 c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 0xC0 && c <= 0x24F);
}

/* ------------------------------------------------------------------ squeeze */

/* A run of spaces is kept, as one space, only between two spaced characters;
 * a space goes in where a spaced character meets any other (non-space) one. */
static PyObject *
squeeze(PyObject *self, PyObject *arg)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "squeeze: text must be str");
        return NULL;
    }
    if (PyUnicode_READY(arg) < 0) return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    if (n > PY_SSIZE_T_MAX / 2 / (Py_ssize_t)sizeof(Py_UCS4) - 1) return PyErr_NoMemory();
    Py_UCS4 *out = PyMem_Malloc((2 * n + 1) * sizeof(Py_UCS4));
    if (out == NULL) return PyErr_NoMemory();
    Py_ssize_t k = 0;
    int last = 0; /* the last character written: 0 none, 1 a space, 2 spaced, 3 other */
    for (Py_ssize_t i = 0; i < n;) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == ' ') {
            Py_ssize_t j = i;
            while (j < n && PyUnicode_READ(kind, data, j) == ' ') j++;
            if (i > 0 && is_spaced(PyUnicode_READ(kind, data, i - 1)) && j < n
                && is_spaced(PyUnicode_READ(kind, data, j))) {
                out[k++] = ' ';
                last = 1;
            }
            i = j;
            continue;
        }
        int now = is_spaced(c) ? 2 : 3;
        if ((last == 2 || last == 3) && last != now) out[k++] = ' ';
        out[k++] = c;
        last = now;
        i++;
    }
    PyObject *result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, k);
    PyMem_Free(out);
    return result;
}

/* ------------------------------------------------------------ squeeze_words */

/* A growing output: characters and, for each, its offset (a borrowed int
 * from the input list, referenced when the result list is made). */
typedef struct {
    Py_UCS4 *chars;
    PyObject **offsets;
    Py_ssize_t size, room;
} Out;

static int
put(Out *o, Py_UCS4 c, PyObject *offset)
{
    if (o->size == o->room) {
        Py_ssize_t room = o->room * 2 + 16;
        Py_UCS4 *chars = PyMem_Realloc(o->chars, room * sizeof(Py_UCS4));
        if (chars == NULL) return -1;
        o->chars = chars;
        PyObject **offsets = PyMem_Realloc(o->offsets, room * sizeof(PyObject *));
        if (offsets == NULL) return -1;
        o->offsets = offsets;
        o->room = room;
    }
    o->chars[o->size] = c;
    o->offsets[o->size++] = offset;
    return 0;
}

/* The run kinds of pykernels._PIECES. */
static inline int
run_kind(Py_UCS4 c)
{
    return c == ' ' ? 1 : is_spaced(c) ? 2 : 3;
}

static PyObject *
squeeze_words(PyObject *self, PyObject *args)
{
    PyObject *folded, *offsets, *forms;
    if (!PyArg_ParseTuple(args, "UO!O:squeeze_words", &folded, &PyList_Type, &offsets, &forms)) return NULL;
    if (PyUnicode_READY(folded) < 0) return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(folded);
    if (PyList_GET_SIZE(offsets) != n) {
        PyErr_SetString(PyExc_ValueError, "squeeze_words: one offset per character");
        return NULL;
    }
    int kind = PyUnicode_KIND(folded);
    const void *data = PyUnicode_DATA(folded);
    /* A snapshot of the offsets: looking up a form runs Python code, which
     * must not be able to change them under our feet. */
    PyObject *snapshot = PyList_AsTuple(offsets);
    if (snapshot == NULL) return NULL;
    PyObject **off = ((PyTupleObject *)snapshot)->ob_item;
    Out o = {NULL, NULL, 0, 0};
    PyObject *result = NULL;
    static Py_UCS4 nothing[1] = {0};
    int last = 0;            /* the kind of the last run kept: 0 none, 2 a word, 3 anything else */
    Py_ssize_t last_end = 0; /* where that run ended */
    for (Py_ssize_t pos = 0; pos < n;) {
        int now = run_kind(PyUnicode_READ(kind, data, pos));
        Py_ssize_t end = pos + 1;
        while (end < n && run_kind(PyUnicode_READ(kind, data, end)) == now) end++;
        if (now == 1) {
            if (last == 2 && last_end == pos && end < n && run_kind(PyUnicode_READ(kind, data, end)) == 2
                && put(&o, ' ', off[pos]) < 0)
                goto nomemory;
        } else if (now == 2) {
            if (last == 3 && put(&o, ' ', off[last_end - 1]) < 0) goto nomemory;
            PyObject *word = PyUnicode_Substring(folded, pos, end);
            if (word == NULL) goto done;
            PyObject *form = PyObject_GetItem(forms, word);
            Py_DECREF(word);
            if (form == NULL) goto done;
            if (!PyUnicode_Check(form) || PyUnicode_READY(form) < 0) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "squeeze_words: a word's form must be str");
                Py_DECREF(form);
                goto done;
            }
            int fkind = PyUnicode_KIND(form);
            const void *fdata = PyUnicode_DATA(form);
            Py_ssize_t flen = PyUnicode_GET_LENGTH(form), size = end - pos;
            for (Py_ssize_t j = 0; j < flen; j++) {
                if (put(&o, PyUnicode_READ(fkind, fdata, j), off[pos + (j < size ? j : size - 1)]) < 0) {
                    Py_DECREF(form);
                    goto nomemory;
                }
            }
            Py_DECREF(form);
            last = 2;
            last_end = end;
        } else {
            if (last == 2 && put(&o, ' ', off[last_end - 1]) < 0) goto nomemory;
            for (Py_ssize_t j = pos; j < end; j++)
                if (put(&o, PyUnicode_READ(kind, data, j), off[j]) < 0) goto nomemory;
            last = 3;
            last_end = end;
        }
        pos = end;
    }
    PyObject *text = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, o.chars ? o.chars : nothing, o.size);
    if (text == NULL) goto done;
    PyObject *list = PyList_New(o.size);
    if (list == NULL) {
        Py_DECREF(text);
        goto done;
    }
    for (Py_ssize_t j = 0; j < o.size; j++) PyList_SET_ITEM(list, j, Py_NewRef(o.offsets[j]));
    result = PyTuple_Pack(2, text, list);
    Py_DECREF(text);
    Py_DECREF(list);
    goto done;
nomemory:
    PyErr_NoMemory();
done:
    PyMem_Free(o.chars);
    PyMem_Free(o.offsets);
    Py_DECREF(snapshot);
    return result;
}

/* ----------------------------------------------------------------- one_edit */

/* Text read in one direction: forward from data[at] up to (not including)
 * data[limit], or backward from data[at - 1] down to data[limit]. */
typedef struct {
    int kind;
    const void *data;
    Py_ssize_t at, limit;
    int forward;
} Reader;

/* The i-th character read, or -1 past the edge. */
static inline int64_t
char_at(const Reader *r, Py_ssize_t i)
{
    if (r->forward) {
        Py_ssize_t p = r->at + i;
        return p < r->limit ? (int64_t)PyUnicode_READ(r->kind, r->data, p) : -1;
    }
    Py_ssize_t p = r->at - 1 - i;
    return p >= r->limit ? (int64_t)PyUnicode_READ(r->kind, r->data, p) : -1;
}

/* pykernels.one_edit, with ``text`` read by ``r`` and ``other`` the m
 * characters of a str of kind ``okind``. */
static int
edit_away(const Reader *r, int okind, const void *odata, Py_ssize_t m)
{
#define O(k) ((int64_t)PyUnicode_READ(okind, odata, (k)))
    Py_ssize_t i = 0;
    while (i < m && char_at(r, i) == O(i)) i++;
    if (i == m) return 0; /* ``other`` itself: an exact match, found as such */
    Py_ssize_t k;
    for (k = i + 1; k < m && char_at(r, k) == O(k); k++) {} /* a wrong character at i */
    if (k == m && char_at(r, i) >= 0) return 1;
    for (k = i + 1; k < m && char_at(r, k - 1) == O(k); k++) {} /* other[i] missing */
    if (k == m) return 1;
    for (k = i; k < m && char_at(r, k + 1) == O(k); k++) {} /* an extra character at i */
    return k == m && char_at(r, i) >= 0;
#undef O
}

static int
ready_str(PyObject *o, const char *what)
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be str", what);
        return -1;
    }
    return PyUnicode_READY(o);
}

static PyObject *
one_edit(PyObject *self, PyObject *args)
{
    PyObject *other, *text;
    if (!PyArg_ParseTuple(args, "UU:one_edit", &other, &text)) return NULL;
    if (PyUnicode_READY(other) < 0 || PyUnicode_READY(text) < 0) return NULL;
    Reader r = {PyUnicode_KIND(text), PyUnicode_DATA(text), 0, PyUnicode_GET_LENGTH(text), 1};
    return PyBool_FromLong(edit_away(&r, PyUnicode_KIND(other), PyUnicode_DATA(other),
                                     PyUnicode_GET_LENGTH(other)));
}

static int
is_tuple(PyObject *o, Py_ssize_t size, const char *what)
{
    if (PyTuple_Check(o) && PyTuple_GET_SIZE(o) == size) return 1;
    PyErr_Format(PyExc_TypeError, "%s must be a tuple of %zd", what, size);
    return 0;
}

/* ----------------------------------------------------------------- gap_cost */

/* pykernels.gap_cost over data[lo:hi]. */
static long
cost_of(int kind, const void *data, Py_ssize_t lo, Py_ssize_t hi)
{
    long cost = 0;
    int in_word = 0;
    for (Py_ssize_t i = lo; i < hi; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (is_spaced(c)) {
            if (!in_word) {
                cost += 2;
                in_word = 1;
            }
        } else {
            in_word = 0;
            if (c != ' ') cost += 1;
        }
    }
    return cost;
}

static PyObject *
gap_cost(PyObject *self, PyObject *arg)
{
    if (ready_str(arg, "gap_cost: region") < 0) return NULL;
    return PyLong_FromLong(cost_of(PyUnicode_KIND(arg), PyUnicode_DATA(arg), 0, PyUnicode_GET_LENGTH(arg)));
}

/* -------------------------------------------------------------------- chain */

/* One way to have found the elements so far, ending at ``end``. */
typedef struct {
    long sim, start, end;
    Py_ssize_t parent; /* its state in the previous element's states, -1 for the first */
    PyObject *occ;     /* the (start, end, similarity) tuple of this element (borrowed) */
} State;

/* Read (start, end, similarity) from an occurrence: a span of the text. */
static int
occurrence(PyObject *o, Py_ssize_t n, long *s, long *e, long *sim)
{
    if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) != 3) {
        PyErr_SetString(PyExc_TypeError, "chain: an occurrence must be a (start, end, similarity) tuple");
        return -1;
    }
    *s = PyLong_AsLong(PyTuple_GET_ITEM(o, 0));
    *e = PyLong_AsLong(PyTuple_GET_ITEM(o, 1));
    *sim = PyLong_AsLong(PyTuple_GET_ITEM(o, 2));
    if (PyErr_Occurred()) return -1;
    if (*s < 0 || *s > *e || *e > n) {
        PyErr_SetString(PyExc_ValueError, "chain: an occurrence outside the text");
        return -1;
    }
    return 0;
}

/* The index of the state ending at ``end`` among states[0:count], or -1. */
static Py_ssize_t
state_at(const State *states, Py_ssize_t count, long end)
{
    for (Py_ssize_t i = 0; i < count; i++)
        if (states[i].end == end) return i;
    return -1;
}

/* pykernels.chain; ``norm`` a ready str. */
static PyObject *
chain_of(PyObject *norm, PyObject *lists, PyObject *gaps, long bound)
{
    if (!PyList_Check(lists) || PyList_GET_SIZE(lists) < 1 || !PyTuple_Check(gaps)) {
        PyErr_SetString(PyExc_TypeError, "chain: lists must be a non-empty list, gaps a tuple");
        return NULL;
    }
    Py_ssize_t elements = PyList_GET_SIZE(lists);
    if (PyTuple_GET_SIZE(gaps) < elements - 1) elements = PyTuple_GET_SIZE(gaps) + 1; /* as zip() stops */
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < elements; i++) {
        PyObject *found = PyList_GET_ITEM(lists, i);
        if (!PyList_Check(found)) {
            PyErr_SetString(PyExc_TypeError, "chain: each element's occurrences must be a list");
            return NULL;
        }
        total += PyList_GET_SIZE(found);
    }
    int kind = PyUnicode_KIND(norm);
    const void *data = PyUnicode_DATA(norm);
    Py_ssize_t n = PyUnicode_GET_LENGTH(norm);
    /* Every element's states, one after the other; layer i is states[first[i]:first[i] + count[i]]. */
    State *states = PyMem_Calloc(total > 0 ? total : 1, sizeof(State));
    Py_ssize_t *first = PyMem_Calloc(elements, sizeof(Py_ssize_t));
    Py_ssize_t *count = PyMem_Calloc(elements, sizeof(Py_ssize_t));
    PyObject *result = NULL;
    if (states == NULL || first == NULL || count == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *found = PyList_GET_ITEM(lists, 0);
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(found); j++) {
        PyObject *o = PyList_GET_ITEM(found, j);
        long s, e, sim;
        if (occurrence(o, n, &s, &e, &sim) < 0) goto done;
        Py_ssize_t at = state_at(states, count[0], e);
        if (at < 0) {
            states[count[0]++] = (State){sim, s, e, -1, o};
        } else if (sim > states[at].sim || (sim == states[at].sim && s < states[at].start)) {
            states[at] = (State){sim, s, e, -1, o};
        }
    }
    for (Py_ssize_t i = 1; i < elements; i++) {
        const State *prev = states + first[i - 1];
        Py_ssize_t prev_count = count[i - 1];
        first[i] = first[i - 1] + prev_count;
        State *next = states + first[i];
        int gap = PyObject_IsTrue(PyTuple_GET_ITEM(gaps, i - 1));
        if (gap < 0) goto done;
        found = PyList_GET_ITEM(lists, i);
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(found); j++) {
            PyObject *o = PyList_GET_ITEM(found, j);
            long s, e, sim;
            if (occurrence(o, n, &s, &e, &sim) < 0) goto done;
            Py_ssize_t chosen = -1;
            long csim = 0, cstart = 0;
            for (Py_ssize_t p = 0; p < prev_count; p++) {
                long pe = prev[p].end;
                if (pe > s) continue;
                if (gap) {
                    if (s - pe > bound * 8) continue;
                    if (s > pe && cost_of(kind, data, pe, s) > bound) continue;
                } else if (!(s == pe || (s == pe + 1 && PyUnicode_READ(kind, data, pe) == ' '))) {
                    continue;
                }
                long cand = prev[p].sim < sim ? prev[p].sim : sim;
                if (chosen < 0 || cand > csim || (cand == csim && prev[p].start < cstart)) {
                    chosen = p;
                    csim = cand;
                    cstart = prev[p].start;
                }
            }
            if (chosen < 0) continue;
            Py_ssize_t at = state_at(next, count[i], e);
            if (at < 0) {
                next[count[i]++] = (State){csim, cstart, e, chosen, o};
            } else if (csim > next[at].sim || (csim == next[at].sim && cstart < next[at].start)) {
                next[at] = (State){csim, cstart, e, chosen, o};
            }
        }
        if (count[i] == 0) {
            result = Py_NewRef(Py_None);
            goto done;
        }
    }
    if (count[elements - 1] == 0) { /* one element, no occurrence: max() of nothing */
        PyErr_SetString(PyExc_ValueError, "chain: no occurrence of the only element");
        goto done;
    }
    /* The best final state: most similar, earliest, longest; the first on a tie. */
    const State *last = states + first[elements - 1];
    Py_ssize_t best = 0;
    for (Py_ssize_t p = 1; p < count[elements - 1]; p++) {
        const State *a = last + p, *b = last + best;
        if (a->sim > b->sim || (a->sim == b->sim && (a->start < b->start
            || (a->start == b->start && a->end - a->start > b->end - b->start))))
            best = p;
    }
    PyObject *spans = PyList_New(elements);
    if (spans == NULL) goto done;
    Py_ssize_t at = best;
    for (Py_ssize_t i = elements - 1; i >= 0; i--) {
        const State *st = states + first[i] + at;
        PyList_SET_ITEM(spans, i, Py_NewRef(st->occ));
        at = st->parent;
    }
    result = Py_BuildValue("(lN)", last[best].sim, spans);
done:
    PyMem_Free(states);
    PyMem_Free(first);
    PyMem_Free(count);
    return result;
}

static PyObject *
chain(PyObject *self, PyObject *args)
{
    PyObject *norm, *lists, *gaps;
    long bound;
    if (!PyArg_ParseTuple(args, "UOOl:chain", &norm, &lists, &gaps, &bound)) return NULL;
    if (PyUnicode_READY(norm) < 0) return NULL;
    return chain_of(norm, lists, gaps, bound);
}

/* -------------------------------------------------------- short_occurrences */

/* pykernels.short_occurrences: at each position from the left, the first of
 * the keys (longest first, in their order among equal lengths) that is there
 * and meets its word boundaries; the search goes on after it. */
static PyObject *
shorts_of(PyObject *norm, PyObject *keys, Py_ssize_t cap)
{
    if (!PyTuple_Check(keys) || PyTuple_GET_SIZE(keys) == 0) {
        PyErr_SetString(PyExc_ValueError, "short_occurrences: keys must be non-empty strings");
        return NULL;
    }
    Py_ssize_t k = PyTuple_GET_SIZE(keys);
    PyObject **sorted = PyMem_Malloc(k * sizeof(PyObject *));
    if (sorted == NULL) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *key = PyTuple_GET_ITEM(keys, i);
        if (!PyUnicode_Check(key) || PyUnicode_READY(key) < 0 || PyUnicode_GET_LENGTH(key) == 0) {
            PyMem_Free(sorted);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "short_occurrences: keys must be non-empty strings");
            return NULL;
        }
        /* a stable insertion sort, longest first */
        Py_ssize_t j = i;
        while (j > 0 && PyUnicode_GET_LENGTH(sorted[j - 1]) < PyUnicode_GET_LENGTH(key)) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = key;
    }
    int kind = PyUnicode_KIND(norm);
    const void *data = PyUnicode_DATA(norm);
    Py_ssize_t n = PyUnicode_GET_LENGTH(norm);
    PyObject *out = PyList_New(0);
    if (out == NULL) goto done;
    for (Py_ssize_t i = 0; i < n && PyList_GET_SIZE(out) < cap;) {
        Py_ssize_t matched = 0;
        for (Py_ssize_t q = 0; q < k && !matched; q++) {
            PyObject *key = sorted[q];
            int kk = PyUnicode_KIND(key);
            const void *kd = PyUnicode_DATA(key);
            Py_ssize_t m = PyUnicode_GET_LENGTH(key);
            if (i + m > n) continue;
            Py_ssize_t j = 0;
            while (j < m && PyUnicode_READ(kk, kd, j) == PyUnicode_READ(kind, data, i + j)) j++;
            if (j < m) continue;
            if (is_spaced(PyUnicode_READ(kk, kd, 0)) && i > 0 && is_spaced(PyUnicode_READ(kind, data, i - 1)))
                continue;
            if (is_spaced(PyUnicode_READ(kk, kd, m - 1)) && i + m < n
                && is_spaced(PyUnicode_READ(kind, data, i + m)))
                continue;
            matched = m;
        }
        if (matched) {
            PyObject *hit = Py_BuildValue("(nni)", i, i + matched, 100);
            if (hit == NULL || PyList_Append(out, hit) < 0) {
                Py_XDECREF(hit);
                Py_CLEAR(out);
                goto done;
            }
            Py_DECREF(hit);
            i += matched;
        } else {
            i++;
        }
    }
done:
    PyMem_Free(sorted);
    return out;
}

static PyObject *
short_occurrences(PyObject *self, PyObject *args)
{
    PyObject *norm, *keys;
    Py_ssize_t cap;
    if (!PyArg_ParseTuple(args, "UOn:short_occurrences", &norm, &keys, &cap)) return NULL;
    if (PyUnicode_READY(norm) < 0) return NULL;
    return shorts_of(norm, keys, cap);
}

/* ---------------------------------------------------------------- best_hits */

/* Whether the rank (sim, -start, length, -order) beats best[gid]'s (absent: it does). */
static int
beats(PyObject *best, PyObject *gid, long sim, long start, long length, long order)
{
    PyObject *prev = PyDict_GetItemWithError(best, gid); /* borrowed */
    if (prev == NULL) return PyErr_Occurred() ? -1 : 1;
    PyObject *rank;
    if (!PyTuple_Check(prev) || PyTuple_GET_SIZE(prev) != 3 || !PyTuple_Check(rank = PyTuple_GET_ITEM(prev, 0))
        || PyTuple_GET_SIZE(rank) != 4) {
        PyErr_SetString(PyExc_TypeError, "best_hits: best values must be (rank, source, where)");
        return -1;
    }
    long now[4] = {sim, -start, length, -order}, was[4];
    for (int i = 0; i < 4; i++) {
        was[i] = PyLong_AsLong(PyTuple_GET_ITEM(rank, i));
        if (was[i] == -1 && PyErr_Occurred()) return -1;
    }
    for (int i = 0; i < 4; i++)
        if (now[i] != was[i]) return now[i] > was[i];
    return 0;
}

/* best[gid] = ((sim, -start, length, -order), source, where), stealing ``where``. */
static int
keep(PyObject *best, PyObject *gid, long sim, long start, long length, long order, PyObject *source,
     PyObject *where)
{
    if (where == NULL) return -1;
    PyObject *value = Py_BuildValue("((llll)ON)", sim, -start, length, -order, source, where);
    if (value == NULL) return -1;
    int rc = PyDict_SetItem(best, gid, value);
    Py_DECREF(value);
    return rc;
}

typedef struct {
    PyObject *occ, *patterns, *entities_of, *demand, *norm, *best, *memo;
    Py_ssize_t cap;
} Plan;

/* pykernels._try_pattern's on-demand part: the occurrences of class ``cid``,
 * found once per call (``memo``); a new reference, NULL on error. */
static PyObject *
on_demand(const Plan *plan, PyObject *cid, PyObject *how)
{
    PyObject *found = PyDict_GetItemWithError(plan->memo, cid);
    if (found != NULL) return Py_NewRef(found);
    if (PyErr_Occurred()) return NULL;
    if (!is_tuple(how, 2, "best_hits: a class found on demand")) return NULL;
    PyObject *keys = PyTuple_GET_ITEM(how, 0);
    int has_entities = PyObject_IsTrue(PyTuple_GET_ITEM(how, 1));
    if (has_entities < 0) return NULL;
    if (PyTuple_Check(keys) && PyTuple_GET_SIZE(keys) > 0) {
        found = shorts_of(plan->norm, keys, plan->cap);
    } else if (!PyTuple_Check(keys)) {
        PyErr_SetString(PyExc_TypeError, "best_hits: short keys must be a tuple");
        return NULL;
    } else {
        found = PyList_New(0);
    }
    if (found == NULL) return NULL;
    if (has_entities) {
        PyObject *more = PyObject_CallOneArg(plan->entities_of, cid);
        if (more == NULL || !PyList_Check(more)) {
            if (more != NULL) PyErr_SetString(PyExc_TypeError, "best_hits: entities_of must return a list");
            Py_XDECREF(more);
            Py_DECREF(found);
            return NULL;
        }
        Py_ssize_t at = PyList_GET_SIZE(found);
        int rc = PyList_SetSlice(found, at, at, more);
        Py_DECREF(more);
        if (rc < 0) {
            Py_DECREF(found);
            return NULL;
        }
    }
    if (PyDict_SetItem(plan->memo, cid, found) < 0) {
        Py_DECREF(found);
        return NULL;
    }
    return found;
}

static long
long_at(PyObject *tuple, Py_ssize_t i)
{
    return PyLong_AsLong(PyTuple_GET_ITEM(tuple, i));
}

/* pykernels._try_pattern: chain pattern ``pid``'s elements, keep the match if it is its group's best. */
static int
try_pattern(const Plan *plan, PyObject *pid)
{
    Py_ssize_t index = PyLong_AsSsize_t(pid);
    if (index == -1 && PyErr_Occurred()) return -1;
    if (index < 0 || index >= PyTuple_GET_SIZE(plan->patterns)) {
        PyErr_SetString(PyExc_ValueError, "best_hits: no such pattern");
        return -1;
    }
    PyObject *p = PyTuple_GET_ITEM(plan->patterns, index);
    if (!is_tuple(p, 8, "a pattern")) return -1;
    PyObject *gid = PyTuple_GET_ITEM(p, 0), *source = PyTuple_GET_ITEM(p, 2), *classes = PyTuple_GET_ITEM(p, 3);
    PyObject *labels = PyTuple_GET_ITEM(p, 4), *gaps = PyTuple_GET_ITEM(p, 5), *scanned = PyTuple_GET_ITEM(p, 7);
    if (!PyTuple_Check(classes) || !PyTuple_Check(scanned) || PyTuple_GET_SIZE(classes) < 1) {
        PyErr_SetString(PyExc_TypeError, "best_hits: a pattern's classes must be a non-empty tuple");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(scanned); i++) {
        int has = PyDict_Contains(plan->occ, PyTuple_GET_ITEM(scanned, i));
        if (has <= 0) return has;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(classes);
    PyObject *lists = PyList_New(n);
    if (lists == NULL) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *cid = PyTuple_GET_ITEM(classes, i);
        PyObject *found = PyDict_GetItemWithError(plan->occ, cid); /* borrowed */
        if (found == NULL && PyErr_Occurred()) goto fail;
        if (found != NULL && !PyList_Check(found)) {
            PyErr_SetString(PyExc_TypeError, "best_hits: occ values must be lists");
            goto fail;
        }
        int scanned_some = found != NULL && PyList_GET_SIZE(found) > 0;
        Py_ssize_t c = PyLong_AsSsize_t(cid);
        if (c == -1 && PyErr_Occurred()) goto fail;
        if (c < 0 || c >= PyTuple_GET_SIZE(plan->demand)) {
            PyErr_SetString(PyExc_ValueError, "best_hits: no such class");
            goto fail;
        }
        PyObject *how = PyTuple_GET_ITEM(plan->demand, c);
        if (how == Py_None) {
            if (!scanned_some) {
                Py_DECREF(lists);
                return 0;
            }
            Py_INCREF(found);
        } else {
            /* A choice of words and an entity: the words scanned and the
             * entity found on demand are all candidates (scanned first). */
            PyObject *extra = on_demand(plan, cid, how);
            if (extra == NULL) goto fail;
            if (scanned_some && PyList_GET_SIZE(extra) > 0) {
                PyObject *both = PySequence_Concat(found, extra);
                Py_DECREF(extra);
                if (both == NULL) goto fail;
                found = both;
            } else if (scanned_some) {
                Py_DECREF(extra);
                Py_INCREF(found);
            } else if (PyList_GET_SIZE(extra) > 0) {
                found = extra;
            } else {
                Py_DECREF(extra);
                Py_DECREF(lists);
                return 0;
            }
        }
        PyList_SET_ITEM(lists, i, found);
    }
    long bound = long_at(p, 6), order = long_at(p, 1);
    if (PyErr_Occurred()) goto fail;
    PyObject *match = chain_of(plan->norm, lists, gaps, bound);
    Py_DECREF(lists);
    if (match == NULL) return -1;
    if (match == Py_None) {
        Py_DECREF(match);
        return 0;
    }
    long sim = PyLong_AsLong(PyTuple_GET_ITEM(match, 0));
    PyObject *spans = PyTuple_GET_ITEM(match, 1);
    PyObject *head = PyList_GET_ITEM(spans, 0), *tail = PyList_GET_ITEM(spans, PyList_GET_SIZE(spans) - 1);
    long start = PyLong_AsLong(PyTuple_GET_ITEM(head, 0)), end = PyLong_AsLong(PyTuple_GET_ITEM(tail, 1));
    int rc = -1;
    if (!PyErr_Occurred()) {
        rc = beats(plan->best, gid, sim, start, end - start, order);
        if (rc > 0) rc = keep(plan->best, gid, sim, start, end - start, order, source,
                              PyTuple_Pack(2, labels, spans));
    }
    Py_DECREF(match);
    return rc < 0 ? -1 : 0;
fail:
    Py_DECREF(lists);
    return -1;
}

/* The best occurrence of a class: most similar, earliest, longest; the first on a tie. */
static PyObject *
best_occurrence(PyObject *found, long *s, long *e, long *sim)
{
    PyObject *chosen = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(found); i++) {
        PyObject *o = PyList_GET_ITEM(found, i);
        if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) != 3) {
            PyErr_SetString(PyExc_TypeError, "best_hits: an occurrence must be a (start, end, similarity) tuple");
            return NULL;
        }
        long os = long_at(o, 0), oe = long_at(o, 1), osim = long_at(o, 2);
        if (PyErr_Occurred()) return NULL;
        if (chosen == NULL || osim > *sim || (osim == *sim && (os < *s || (os == *s && oe - os > *e - *s)))) {
            chosen = o;
            *s = os;
            *e = oe;
            *sim = osim;
        }
    }
    return chosen;
}

static PyObject *
best_hits(PyObject *self, PyObject *args)
{
    PyObject *plan_of, *always;
    Plan plan;
    if (!PyArg_ParseTuple(args, "O!O!O!O!OO!Un:best_hits", &PyDict_Type, &plan.occ, &PyDict_Type, &plan_of,
                          &PyTuple_Type, &plan.patterns, &PyTuple_Type, &always, &plan.entities_of, &PyTuple_Type,
                          &plan.demand, &plan.norm, &plan.cap))
        return NULL;
    if (PyUnicode_READY(plan.norm) < 0) return NULL;
    plan.best = PyDict_New();
    plan.memo = PyDict_New();
    if (plan.best == NULL || plan.memo == NULL) {
        Py_XDECREF(plan.best);
        Py_XDECREF(plan.memo);
        return NULL;
    }
    /* The classes, as they are now: on-demand calls run Python code. */
    PyObject *items = PyDict_Items(plan.occ);
    if (items == NULL) goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        PyObject *cid = PyTuple_GET_ITEM(item, 0), *found = PyTuple_GET_ITEM(item, 1);
        PyObject *entry = PyDict_GetItemWithError(plan_of, cid); /* borrowed */
        if (entry == NULL) {
            if (PyErr_Occurred()) goto fail;
            continue;
        }
        if (!is_tuple(entry, 3, "a class's plan")) goto fail;
        PyObject *label = PyTuple_GET_ITEM(entry, 0), *consumers = PyTuple_GET_ITEM(entry, 1);
        PyObject *pids = PyTuple_GET_ITEM(entry, 2);
        if (!PyTuple_Check(consumers) || !PyTuple_Check(pids) || !PyList_Check(found)) {
            PyErr_SetString(PyExc_TypeError, "best_hits: malformed class plan or occurrences");
            goto fail;
        }
        if (PyTuple_GET_SIZE(consumers) > 0 && PyList_GET_SIZE(found) > 0) {
            long s = 0, e = 0, sim = 0;
            PyObject *o = best_occurrence(found, &s, &e, &sim);
            if (o == NULL) goto fail;
            for (Py_ssize_t c = 0; c < PyTuple_GET_SIZE(consumers); c++) {
                PyObject *consumer = PyTuple_GET_ITEM(consumers, c);
                if (!is_tuple(consumer, 3, "a consumer")) goto fail;
                long order = long_at(consumer, 1);
                if (order == -1 && PyErr_Occurred()) goto fail;
                PyObject *gid = PyTuple_GET_ITEM(consumer, 0);
                int better = beats(plan.best, gid, sim, s, e - s, order);
                if (better < 0) goto fail;
                if (better) {
                    PyObject *where = label == Py_None ? Py_NewRef(Py_None)
                                                       : Py_BuildValue("((O)((lll)))", label, s, e, sim);
                    if (keep(plan.best, gid, sim, s, e - s, order, PyTuple_GET_ITEM(consumer, 2), where) < 0)
                        goto fail;
                }
            }
        }
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(pids); k++)
            if (try_pattern(&plan, PyTuple_GET_ITEM(pids, k)) < 0) goto fail;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(always); k++)
        if (try_pattern(&plan, PyTuple_GET_ITEM(always, k)) < 0) goto fail;
    Py_DECREF(items);
    Py_DECREF(plan.memo);
    return plan.best;
fail:
    Py_XDECREF(items);
    Py_DECREF(plan.best);
    Py_DECREF(plan.memo);
    return NULL;
}

/* ------------------------------------------------------------- scan_matches */


/* For each (fid, other, head) in ``anchors`` whose ``other`` is one edit
 * from the text read by ``r``, add (fid, start or start - len(other)) to
 * ``proposed``. */
static int
try_anchors(PyObject *anchors, const Reader *r, Py_ssize_t start, PyObject *proposed)
{
    if (!PyTuple_Check(anchors)) {
        PyErr_SetString(PyExc_TypeError, "scan_matches: anchors must be a tuple");
        return -1;
    }
    for (Py_ssize_t a = 0; a < PyTuple_GET_SIZE(anchors); a++) {
        PyObject *anchor = PyTuple_GET_ITEM(anchors, a);
        if (!is_tuple(anchor, 3, "an anchor")) return -1;
        PyObject *fid = PyTuple_GET_ITEM(anchor, 0), *other = PyTuple_GET_ITEM(anchor, 1);
        PyObject *head = PyTuple_GET_ITEM(anchor, 2);
        if (!PyLong_Check(fid)) {
            PyErr_SetString(PyExc_TypeError, "scan_matches: an anchor's key must be int");
            return -1;
        }
        if (ready_str(other, "scan_matches: an anchor's other half") < 0
            || ready_str(head, "scan_matches: an anchor's head") < 0)
            return -1;
        /* The Python twin's cheap test first (t0 in head or t1 in head; an
         * empty t0 or t1, past the text's edge, is in every head). */
        int hk = PyUnicode_KIND(head);
        const void *hd = PyUnicode_DATA(head);
        Py_ssize_t hn = PyUnicode_GET_LENGTH(head);
        int pass = 0;
        for (Py_ssize_t t = 0; t < 2 && !pass; t++) {
            int64_t c = char_at(r, t);
            if (c < 0) {
                pass = 1;
                break;
            }
            for (Py_ssize_t h = 0; h < hn; h++)
                if ((int64_t)PyUnicode_READ(hk, hd, h) == c) {
                    pass = 1;
                    break;
                }
        }
        if (!pass) continue;
        Py_ssize_t m = PyUnicode_GET_LENGTH(other);
        if (!edit_away(r, PyUnicode_KIND(other), PyUnicode_DATA(other), m)) continue;
        PyObject *pair = Py_BuildValue("(On)", fid, r->forward ? start : start - m);
        if (pair == NULL) return -1;
        int rc = PySet_Add(proposed, pair);
        Py_DECREF(pair);
        if (rc < 0) return -1;
    }
    return 0;
}

/* Where one scan's findings go (pykernels.scan_matches's arguments). */
typedef struct {
    int kind;
    const void *data;
    Py_ssize_t n;
    PyObject *occ, *exact_keys, *proposed;
    Py_ssize_t cap;
} Findings;

/* pykernels.scan_matches's loop body, for one match ending at ``end``. */
static int
take_match(const Findings *f, Py_ssize_t end, PyObject *payload)
{
    if (!is_tuple(payload, 7, "scan_matches: a payload")) return -1;
    Py_ssize_t length = PyLong_AsSsize_t(PyTuple_GET_ITEM(payload, 0));
    Py_ssize_t left = PyLong_AsSsize_t(PyTuple_GET_ITEM(payload, 2));
    Py_ssize_t right = PyLong_AsSsize_t(PyTuple_GET_ITEM(payload, 3));
    Py_ssize_t fid = PyLong_AsSsize_t(PyTuple_GET_ITEM(payload, 4));
    if (PyErr_Occurred()) return -1;
    if (end < 0 || end >= f->n || length < 1 || length > end + 1) {
        PyErr_SetString(PyExc_ValueError, "scan_matches: a match outside the text");
        return -1;
    }
    Py_ssize_t start = end - length + 1;
    PyObject *classes = PyTuple_GET_ITEM(payload, 1);
    PyObject *lefts = PyTuple_GET_ITEM(payload, 5), *rights = PyTuple_GET_ITEM(payload, 6);
    if (!PyTuple_Check(classes) || !PyTuple_Check(lefts) || !PyTuple_Check(rights)) {
        PyErr_SetString(PyExc_TypeError, "scan_matches: classes and anchors must be tuples");
        return -1;
    }
    if (PyTuple_GET_SIZE(classes) > 0) {
        PyObject *hit = Py_BuildValue("(nni)", start + left - 1, end - right, 100);
        if (hit == NULL) return -1;
        for (Py_ssize_t c = 0; c < PyTuple_GET_SIZE(classes); c++) {
            PyObject *cid = PyTuple_GET_ITEM(classes, c);
            PyObject *found = PyDict_GetItemWithError(f->occ, cid); /* borrowed */
            if (found == NULL) {
                if (PyErr_Occurred()) break;
                PyObject *fresh = PyList_New(1);
                if (fresh == NULL) break;
                PyList_SET_ITEM(fresh, 0, Py_NewRef(hit));
                int rc = PyDict_SetItem(f->occ, cid, fresh);
                Py_DECREF(fresh);
                if (rc < 0) break;
            } else if (!PyList_Check(found)) {
                PyErr_SetString(PyExc_TypeError, "scan_matches: occ values must be lists");
                break;
            } else if (PyList_GET_SIZE(found) < f->cap && PyList_Append(found, hit) < 0) {
                break;
            }
        }
        Py_DECREF(hit);
        if (PyErr_Occurred()) return -1;
        if (fid >= 0 && PySet_Add(f->exact_keys, PyTuple_GET_ITEM(payload, 4)) < 0) return -1;
    }
    if (PyTuple_GET_SIZE(lefts) > 0) {
        Py_ssize_t limit = end + length + 3 < f->n ? end + length + 3 : f->n;
        Reader r = {f->kind, f->data, end + 1, limit, 1};
        if (try_anchors(lefts, &r, start, f->proposed) < 0) return -1;
    }
    if (PyTuple_GET_SIZE(rights) > 0) {
        Py_ssize_t lo = start - length - 1 > 0 ? start - length - 1 : 0;
        Reader r = {f->kind, f->data, start, lo, 0};
        if (try_anchors(rights, &r, start, f->proposed) < 0) return -1;
    }
    return 0;
}

static PyObject *
scan_matches(PyObject *self, PyObject *args)
{
    PyObject *matches, *padded;
    Findings f;
    if (!PyArg_ParseTuple(args, "OUO!O!O!n:scan_matches", &matches, &padded, &PyDict_Type, &f.occ, &PySet_Type,
                          &f.exact_keys, &PySet_Type, &f.proposed, &f.cap))
        return NULL;
    if (PyUnicode_READY(padded) < 0) return NULL;
    f.kind = PyUnicode_KIND(padded);
    f.data = PyUnicode_DATA(padded);
    f.n = PyUnicode_GET_LENGTH(padded);
    PyObject *iterator = PyObject_GetIter(matches);
    if (iterator == NULL) return NULL;
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        int rc = -1;
        if (is_tuple(item, 2, "scan_matches: a match")) {
            Py_ssize_t end = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 0));
            if (!(end == -1 && PyErr_Occurred())) rc = take_match(&f, end, PyTuple_GET_ITEM(item, 1));
        }
        Py_DECREF(item);
        if (rc < 0) {
            Py_DECREF(iterator);
            return NULL;
        }
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- Automaton */

/* An Aho-Corasick automaton over code points: pykernels.Automaton, which
 * wraps pyahocorasick; the same matches in the same order (tests compare
 * them), without a Python object per match.
 *
 * Trie nodes are numbered from the root (0); a transition is one entry of an
 * open-addressing hash table keyed by (node, character). Each node keeps its
 * failure link and ``out``, the next node on its failure chain that ends a
 * word, so the words ending at a position are read longest first, as
 * pyahocorasick yields them. */
typedef struct {
    PyObject_HEAD
    PyObject *words, *payloads; /* tuples, as given (for pickling) */
    Py_ssize_t count;           /* distinct words */
    int32_t nodes;
    int32_t *fail, *out, *word; /* per node; word: index into payloads, or -1 */
    uint64_t *keys;             /* (node << 21 | character) + 1; 0: empty */
    int32_t *values;
    uint64_t mask;
} Automaton;

static inline uint64_t
mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static inline int32_t
go(const Automaton *a, int32_t node, Py_UCS4 c)
{
    uint64_t key = (((uint64_t)node << 21) | c) + 1;
    for (uint64_t i = mix(key) & a->mask;; i = (i + 1) & a->mask) {
        if (a->keys[i] == key) return a->values[i];
        if (a->keys[i] == 0) return -1;
    }
}

static inline void
add_edge(Automaton *a, int32_t node, Py_UCS4 c, int32_t child)
{
    uint64_t key = (((uint64_t)node << 21) | c) + 1;
    uint64_t i = mix(key) & a->mask;
    while (a->keys[i] != 0) i = (i + 1) & a->mask;
    a->keys[i] = key;
    a->values[i] = child;
}

static void
automaton_free(Automaton *a)
{
    PyMem_Free(a->fail);
    PyMem_Free(a->out);
    PyMem_Free(a->word);
    PyMem_Free(a->keys);
    PyMem_Free(a->values);
    a->fail = a->out = a->word = a->values = NULL;
    a->keys = NULL;
}

static void
Automaton_dealloc(Automaton *a)
{
    automaton_free(a);
    Py_XDECREF(a->words);
    Py_XDECREF(a->payloads);
    Py_TYPE(a)->tp_free((PyObject *)a);
}

static PyObject *
Automaton_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *words_in, *payloads_in;
    static char *names[] = {"words", "payloads", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:Automaton", names, &words_in, &payloads_in)) return NULL;
    Automaton *a = (Automaton *)type->tp_alloc(type, 0);
    if (a == NULL) return NULL;
    int32_t *first = NULL, *next = NULL, *queue = NULL;
    Py_UCS4 *label = NULL;
    a->words = PySequence_Tuple(words_in);
    a->payloads = a->words ? PySequence_Tuple(payloads_in) : NULL;
    if (a->payloads == NULL) goto fail;
    Py_ssize_t count = PyTuple_GET_SIZE(a->words);
    if (PyTuple_GET_SIZE(a->payloads) != count) {
        PyErr_SetString(PyExc_ValueError, "Automaton: one payload per word");
        goto fail;
    }
    Py_ssize_t total = 1;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *w = PyTuple_GET_ITEM(a->words, i);
        if (!PyUnicode_Check(w) || PyUnicode_READY(w) < 0 || PyUnicode_GET_LENGTH(w) == 0) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "Automaton: words must be non-empty strings");
            goto fail;
        }
        total += PyUnicode_GET_LENGTH(w);
        if (total >= (Py_ssize_t)1 << 30) {
            PyErr_SetString(PyExc_ValueError, "Automaton: too many characters");
            goto fail;
        }
    }
    uint64_t capacity = 16;
    while (capacity < (uint64_t)total + (uint64_t)total / 3) capacity <<= 1;
    a->mask = capacity - 1;
    a->keys = PyMem_Calloc(capacity, sizeof(uint64_t));
    a->values = PyMem_Malloc(capacity * sizeof(int32_t));
    a->fail = PyMem_Malloc(total * sizeof(int32_t));
    a->out = PyMem_Malloc(total * sizeof(int32_t));
    a->word = PyMem_Malloc(total * sizeof(int32_t));
    first = PyMem_Malloc(total * sizeof(int32_t));
    next = PyMem_Malloc(total * sizeof(int32_t));
    queue = PyMem_Malloc(total * sizeof(int32_t));
    label = PyMem_Malloc(total * sizeof(Py_UCS4));
    if (!a->keys || !a->values || !a->fail || !a->out || !a->word || !first || !next || !queue || !label) {
        PyErr_NoMemory();
        goto fail;
    }
    a->nodes = 1;
    first[0] = -1;
    a->word[0] = -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *w = PyTuple_GET_ITEM(a->words, i);
        int kind = PyUnicode_KIND(w);
        const void *data = PyUnicode_DATA(w);
        int32_t state = 0;
        for (Py_ssize_t j = 0; j < PyUnicode_GET_LENGTH(w); j++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, j);
            int32_t child = go(a, state, c);
            if (child < 0) {
                child = a->nodes++;
                label[child] = c;
                first[child] = -1;
                next[child] = first[state];
                first[state] = child;
                a->word[child] = -1;
                add_edge(a, state, c, child);
            }
            state = child;
        }
        if (a->word[state] < 0) a->count++;
        a->word[state] = (int32_t)i; /* a word given twice keeps its last payload, as in pyahocorasick */
    }
    /* Failure links, breadth first. */
    Py_ssize_t head = 0, tail = 0;
    a->fail[0] = 0;
    a->out[0] = -1;
    queue[tail++] = 0;
    while (head < tail) {
        int32_t u = queue[head++];
        for (int32_t v = first[u]; v >= 0; v = next[v]) {
            int32_t f = 0;
            if (u != 0) {
                for (int32_t g = a->fail[u];; g = a->fail[g]) {
                    int32_t to = go(a, g, label[v]);
                    if (to >= 0) {
                        f = to;
                        break;
                    }
                    if (g == 0) break;
                }
            }
            a->fail[v] = f;
            a->out[v] = a->word[f] >= 0 ? f : a->out[f];
            queue[tail++] = v;
        }
    }
    PyMem_Free(first);
    PyMem_Free(next);
    PyMem_Free(queue);
    PyMem_Free(label);
    return (PyObject *)a;
fail:
    PyMem_Free(first);
    PyMem_Free(next);
    PyMem_Free(queue);
    PyMem_Free(label);
    Py_DECREF(a);
    return NULL;
}

/* Call ``take(ctx, end, payload)`` for every word found in ``text``, in
 * pyahocorasick's order: by end position, longest first. */
static int
automaton_walk(const Automaton *a, PyObject *text, int (*take)(void *, Py_ssize_t, PyObject *), void *ctx)
{
    if (a->count == 0) return 0;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int32_t state = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        for (;;) {
            int32_t to = go(a, state, c);
            if (to >= 0) {
                state = to;
                break;
            }
            if (state == 0) break;
            state = a->fail[state];
        }
        for (int32_t node = a->word[state] >= 0 ? state : a->out[state]; node >= 0; node = a->out[node])
            if (take(ctx, i, PyTuple_GET_ITEM(a->payloads, a->word[node])) < 0) return -1;
    }
    return 0;
}

static int
append_match(void *list, Py_ssize_t end, PyObject *payload)
{
    PyObject *item = Py_BuildValue("(nO)", end, payload);
    if (item == NULL) return -1;
    int rc = PyList_Append((PyObject *)list, item);
    Py_DECREF(item);
    return rc;
}

static PyObject *
Automaton_iter(Automaton *a, PyObject *text)
{
    if (ready_str(text, "Automaton.iter: text") < 0) return NULL;
    PyObject *out = PyList_New(0);
    if (out != NULL && automaton_walk(a, text, append_match, out) < 0) Py_CLEAR(out);
    return out;
}

static int
take_found(void *findings, Py_ssize_t end, PyObject *payload)
{
    return take_match((const Findings *)findings, end, payload);
}

static PyObject *
Automaton_scan_matches(Automaton *a, PyObject *args)
{
    PyObject *padded;
    Findings f;
    if (!PyArg_ParseTuple(args, "UO!O!O!n:scan_matches", &padded, &PyDict_Type, &f.occ, &PySet_Type, &f.exact_keys,
                          &PySet_Type, &f.proposed, &f.cap))
        return NULL;
    if (PyUnicode_READY(padded) < 0) return NULL;
    f.kind = PyUnicode_KIND(padded);
    f.data = PyUnicode_DATA(padded);
    f.n = PyUnicode_GET_LENGTH(padded);
    if (automaton_walk(a, padded, take_found, &f) < 0) return NULL;
    Py_RETURN_NONE;
}

static Py_ssize_t
Automaton_len(Automaton *a)
{
    return a->count;
}

static PyObject *
Automaton_reduce(Automaton *a, PyObject *unused)
{
    return Py_BuildValue("(O(OO))", (PyObject *)Py_TYPE(a), a->words, a->payloads);
}

static PyMethodDef Automaton_methods[] = {
    {"iter", (PyCFunction)Automaton_iter, METH_O, "Every (end, payload) found in a text, as a list."},
    {"scan_matches", (PyCFunction)Automaton_scan_matches, METH_VARARGS,
     "pykernels.scan_matches over this automaton's matches in a padded text."},
    {"__reduce__", (PyCFunction)Automaton_reduce, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Automaton_sequence = {.sq_length = (lenfunc)Automaton_len};

static PyTypeObject AutomatonType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "callguard.detect._kernels.Automaton",
    .tp_basicsize = sizeof(Automaton),
    .tp_dealloc = (destructor)Automaton_dealloc,
    .tp_as_sequence = &Automaton_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An Aho-Corasick automaton of words, each with a payload (pykernels.Automaton in C).",
    .tp_methods = Automaton_methods,
    .tp_new = Automaton_new,
};

/* ------------------------------------------------------------------- module */

static PyMethodDef methods[] = {
    {"squeeze", squeeze, METH_O, "pykernels.squeeze in C."},
    {"squeeze_words", squeeze_words, METH_VARARGS, "pykernels.squeeze_words in C."},
    {"one_edit", one_edit, METH_VARARGS, "pykernels.one_edit in C."},
    {"gap_cost", gap_cost, METH_O, "pykernels.gap_cost in C."},
    {"chain", chain, METH_VARARGS, "pykernels.chain in C."},
    {"scan_matches", scan_matches, METH_VARARGS, "pykernels.scan_matches in C."},
    {"best_hits", best_hits, METH_VARARGS, "pykernels.best_hits in C."},
    {"short_occurrences", short_occurrences, METH_VARARGS, "pykernels.short_occurrences in C."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels", "The C twins of callguard.detect.pykernels.", -1, methods,
};

PyMODINIT_FUNC
PyInit__kernels(void)
{
    if (PyType_Ready(&AutomatonType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Automaton", (PyObject *)&AutomatonType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
