/*
 * kb_language.c - which human language a pasted text is written in, for the facts stage.
 *
 * A support agent who gets "no match" for a German or French mail error should at least be told
 * that the text is German or French: the KB may hold no entry for that wording, and a colleague
 * or a translation may. The guess counts the most frequent short words of each language (articles,
 * prepositions, auxiliaries: the words every sentence has, whatever it is about) in the first
 * KB_LANGUAGE_SPAN bytes; a language is named only when its words clearly outnumber English
 * ones, so log lines, codes and host names name none. This is linguistic data, not knowledge
 * about causes: nothing here decides an answer.
 */
#include <pthread.h>
#include <string.h>

#include "kb_internal.h"

/* Bytes of the text read: a sentence or two decides, a megabyte of log would only cost. */
#define KB_LANGUAGE_SPAN 65536
/* A language is named when it has at least this many word hits, of at least two words. */
#define KB_LANGUAGE_MIN_HITS 3

struct language {
    const char *code, *name;
    const char *const *words; /* lowercase, NULL-terminated */
};

/* Words shared by two of these languages (de, la, que, con, non, del, e, a, no, se) are left
 * out: each list holds words that say its language and no other of the list. */
static const char *const english[] = {"the",   "and",  "is",    "not",  "to",     "of",     "for",
                                      "with",  "was",  "could", "this", "your",   "has",    "have",
                                      "are",   "from", "that",  "be",   "been",   "please", "an",
                                      "which", "or",   "it",    "at",   "cannot", "will",   NULL};
static const char *const german[] = {
    "der",      "das",        "und",       "nicht",  "ist",       "ein",        "eine",
    "mit",      "für",        "auf",       "den",    "dem",       "des",        "von",
    "zu",       "wurde",      "konnte",    "werden", "kann",      "keine",      "ihre",
    "bei",      "oder",       "nachricht", "fehler", "empfänger", "verbindung", "kennwort",
    "benutzer", "zustellung", "postfach",  "wird",   NULL};
static const char *const french[] = {
    "le",     "les",          "et",        "est",     "une",     "des",   "pour", "pas",   "du",
    "dans",   "être",         "été",       "sur",     "avec",    "votre", "vous", "au",    "aux",
    "erreur", "destinataire", "connexion", "serveur", "adresse", "échec", "n'a",  "n'est", NULL};
static const char *const spanish[] = {"el",        "los",          "las",      "y",        "es",
                                      "una",       "para",         "por",      "su",       "al",
                                      "mensaje",   "destinatario", "conexión", "servidor", "correo",
                                      "dirección", "ha",           "está",     "pudo",     NULL};
static const char *const italian[] = {"il",     "lo",           "gli",         "è",
                                      "di",     "per",          "della",       "messaggio",
                                      "errore", "destinatario", "connessione", "indirizzo",
                                      "posta",  "stato",        "impossibile", "sono",
                                      NULL};
static const char *const portuguese[] = {
    "o",    "os",           "um",      "uma",      "não",   "do",  "da", "mensagem",
    "erro", "destinatário", "conexão", "endereço", "falha", "foi", "ao", NULL};
static const char *const dutch[] = {
    "het",     "een",  "en",        "niet",       "van",   "voor", "met", "op",         "te",
    "bericht", "fout", "ontvanger", "verbinding", "wordt", "werd", "kon", "wachtwoord", NULL};

static const struct language languages[] = {
    {"en", "English", english}, {"de", "German", german},   {"fr", "French", french},
    {"es", "Spanish", spanish}, {"it", "Italian", italian}, {"pt", "Portuguese", portuguese},
    {"nl", "Dutch", dutch},
};
#define LANGUAGE_COUNT (sizeof languages / sizeof languages[0])

/* A byte of a word: ASCII letters, the apostrophe inside French elisions, and every byte of a
 * multi-byte UTF-8 character (accented letters). */
static int word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80 || c == '\'';
}

static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Every word of every list, by its first byte: built once per process, so that a word of the
 * text is compared with the few words that start like it, not with all of them. */
#define WORD_MAX 240
static struct {
    struct {
        const char *text;
        unsigned char len, language, index;
    } word[WORD_MAX];
    unsigned char next[WORD_MAX]; /* the next word of the same first byte; WORD_MAX: none */
    unsigned char first[256];     /* the first word starting with this byte; WORD_MAX: none */
} table;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void)
{
    memset(table.first, WORD_MAX, sizeof table.first);
    size_t n = 0;
    for (size_t l = 0; l < LANGUAGE_COUNT; l++)
        for (size_t k = 0; languages[l].words[k] && n < WORD_MAX; k++, n++) {
            const char *w = languages[l].words[k];
            unsigned char c = (unsigned char)w[0];
            table.word[n].text = w;
            table.word[n].len = (unsigned char)strlen(w);
            table.word[n].language = (unsigned char)l;
            table.word[n].index = (unsigned char)k;
            table.next[n] = table.first[c];
            table.first[c] = (unsigned char)n;
        }
}

/* Counts w[0, n) for each language whose list holds it. */
static void count_word(const char *w, size_t n, size_t *hits, unsigned long long *seen)
{
    for (unsigned k = table.first[ascii_lower((unsigned char)w[0])]; k != WORD_MAX;
         k = table.next[k]) {
        if (table.word[k].len != n)
            continue;
        size_t i = 1;
        while (i < n && ascii_lower((unsigned char)w[i]) == (unsigned char)table.word[k].text[i])
            i++;
        if (i == n) {
            hits[table.word[k].language]++;
            seen[table.word[k].language] |= 1ull << table.word[k].index;
        }
    }
}

int kb_language_guess(const char *text, size_t len, const char **code, const char **name)
{
    size_t hits[LANGUAGE_COUNT] = {0};
    unsigned long long seen[LANGUAGE_COUNT] = {0}; /* which words, as bits (lists < 64) */
    pthread_once(&table_once, table_build);
    if (len > KB_LANGUAGE_SPAN)
        len = KB_LANGUAGE_SPAN;
    for (size_t i = 0; i < len;) {
        if (!word_byte((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && word_byte((unsigned char)text[i]))
            i++;
        /* a word inside an identifier, a path or an address is none of a sentence's */
        if ((start
             && (text[start - 1] == '.' || text[start - 1] == '_' || text[start - 1] == '/'
                 || text[start - 1] == '@'))
            || (i < len
                && (text[i] == '_' || text[i] == '@' || (text[i] >= '0' && text[i] <= '9'))))
            continue;
        size_t n = i - start;
        if (n <= 16)
            count_word(text + start, n, hits, seen);
    }
    size_t best = 0;
    for (size_t l = 1; l < LANGUAGE_COUNT; l++)
        if (hits[l] > hits[best])
            best = l;
    if (best == 0 || hits[best] < KB_LANGUAGE_MIN_HITS || hits[best] <= hits[0]
        || (seen[best] & (seen[best] - 1)) == 0)
        return 0;
    *code = languages[best].code;
    *name = languages[best].name;
    return 1;
}
