/* parse_floor.c - the trace-parsing floor of ../shared/perf/README.md on
 * this machine: every field of every ftrace line parsed, one aggregate per
 * cookie, nothing else (no reordering, no checks, no report).
 *
 * Per line: task-pid, [cpu], flags, seconds.micros, the event name, then
 * each key=value of the body as a number (hex for ids: c= p= o= obj= and
 * any value starting 0x or holding a-f, decimal otherwise); the line's
 * cookie (c=, else o=/obj=) is looked up in an open-addressing table that
 * keeps a count and the last u= seen. The file is read in 1 MiB blocks.
 *
 *   gcc -O2 -o parse_floor parse_floor.c && ./parse_floor TRACE
 * prints lines, cookies and a checksum (so no work is optimised away). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK (1 << 20)
#define TABLE (1u << 22)

struct slot {
  uint64_t id;
  uint64_t lines;
  int64_t usage;
};

static struct slot *table;
static uint64_t cookies, checksum;

static struct slot *find(uint64_t id)
{
  uint64_t h = id * 0x9e3779b97f4a7c15ull;
  for (uint32_t i = (uint32_t)(h >> 42);; i = (i + 1) & (TABLE - 1)) {
    if (table[i].id == id)
      return &table[i];
    if (table[i].id == 0) {
      table[i].id = id;
      ++cookies;
      return &table[i];
    }
  }
}

static const char *number(const char *p, const char *e, int hex, uint64_t *v)
{
  uint64_t x = 0;
  if (hex) {
    if (e - p > 2 && p[0] == '0' && p[1] == 'x')
      p += 2;
    for (; p < e; ++p) {
      unsigned c = (unsigned char)*p, d;
      if (c - '0' < 10)
        d = c - '0';
      else if ((c | 32) - 'a' < 6)
        d = (c | 32) - 'a' + 10;
      else
        break;
      x = x << 4 | d;
    }
  } else {
    int neg = p < e && *p == '-';
    p += neg;
    for (; p < e && (unsigned)(*p - '0') < 10; ++p)
      x = x * 10 + (uint64_t)(*p - '0');
    if (neg)
      x = -x;
  }
  *v = x;
  return p;
}

static void line(const char *p, const char *e)
{
  if (p == e || *p == '#')
    return;
  /* "task-pid [cpu] flags secs.micros: event: body" */
  const char *lb = memchr(p, '[', (size_t)(e - p));
  if (!lb)
    return;
  const char *dash = lb;
  while (dash > p && dash[-1] == ' ')
    --dash;
  const char *pid_end = dash;
  while (dash > p && (unsigned)(dash[-1] - '0') < 10)
    --dash;
  uint64_t pid, cpu, sec, usec, v;
  number(dash, pid_end, 0, &pid);
  const char *q = number(lb + 1, e, 0, &cpu) + 1;
  while (q < e && *q == ' ')
    ++q;
  uint64_t flags = 0;
  for (int i = 0; i < 4 && q < e; ++i, ++q)
    flags = flags << 8 | (unsigned char)*q;
  while (q < e && *q == ' ')
    ++q;
  q = number(q, e, 0, &sec);
  q = number(q + 1, e, 0, &usec) + 2; /* ": " */
  const char *ev = q;
  const char *colon = memchr(q, ':', (size_t)(e - q));
  if (!colon)
    return;
  uint64_t evh = 0;
  for (const char *c = ev; c < colon; ++c)
    evh = evh * 31 + (unsigned char)*c;
  uint64_t id = 0;
  int64_t usage = -1;
  for (q = colon + 1; q < e;) {
    while (q < e && *q == ' ')
      ++q;
    const char *k = q;
    const char *eq = q;
    while (eq < e && *eq != '=' && *eq != ' ')
      ++eq;
    if (eq >= e || *eq != '=') {
      q = eq;
      continue;
    }
    const char *val = eq + 1, *end = val;
    while (end < e && *end != ' ')
      ++end;
    size_t kl = (size_t)(eq - k);
    int is_id = (kl == 1 && (k[0] == 'c' || k[0] == 'p' || k[0] == 'o')) ||
                (kl == 3 && memcmp(k, "obj", 3) == 0);
    int hex = is_id || (end - val > 2 && val[0] == '0' && val[1] == 'x');
    number(val, end, hex, &v);
    if (is_id && !id && k[0] != 'p')
      id = v;
    if (kl == 1 && k[0] == 'u')
      usage = (int64_t)v;
    checksum += v;
    q = end;
  }
  checksum += pid ^ cpu ^ flags ^ sec ^ usec ^ evh;
  if (id) {
    struct slot *s = find(id);
    ++s->lines;
    if (usage >= 0)
      s->usage = usage;
  }
}

int main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: parse_floor TRACE\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  table = calloc(TABLE, sizeof *table);
  char *buf = malloc(BLOCK + 4096);
  size_t have = 0, n;
  uint64_t lines = 0;
  while ((n = fread(buf + have, 1, BLOCK - have, f)) > 0 || have) {
    have += n;
    char *p = buf, *e = buf + have;
    for (;;) {
      char *nl = memchr(p, '\n', (size_t)(e - p));
      if (!nl) {
        if (n == 0) { /* last line without a newline */
          line(p, e);
          ++lines;
          p = e;
        }
        break;
      }
      line(p, nl);
      ++lines;
      p = nl + 1;
    }
    have = (size_t)(e - p);
    memmove(buf, p, have);
    if (n == 0)
      break;
  }
  fclose(f);
  printf("lines=%llu cookies=%llu checksum=%llx\n", (unsigned long long)lines,
         (unsigned long long)cookies, (unsigned long long)checksum);
  return 0;
}
