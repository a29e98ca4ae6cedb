/* bare_curl - the floor for bench_router: the same streamed POSTs to the
 * same fake, one after another, from a bare curl multi loop with nothing
 * else around it (libcurl only). Prints CPU us per call and latency.
 *
 *   bench/bare_curl URL N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <curl/curl.h>

/* CPU seconds used by this process so far. */
static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Count the bytes, as a client that reads the stream must. */
static size_t on_body(char *p, size_t s, size_t n, void *ud) {
    (void)p;
    *(size_t *)ud += s * n;
    return s * n;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One POST through the multi handle, new easy handle each time (as the daemon does). */
static int one_call(CURLM *multi, const char *url, const char *body, struct curl_slist *headers, size_t *got) {
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, got);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L);
    curl_multi_add_handle(multi, e);
    int running = 1;
    while (running) {
        curl_multi_perform(multi, &running);
        if (running) curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(multi, e);
    curl_easy_cleanup(e);
    return status == 200 ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bare_curl URL N\n");
        return 2;
    }
    const char *url = argv[1];
    long n = atol(argv[2]);
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\"stream\":true,"
                       "\"stream_options\":{\"include_usage\":true}}";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    double *lat = calloc((size_t)n, sizeof(double));
    size_t got = 0;
    int failed = 0;
    for (int i = 0; i < 50; i++) failed += one_call(multi, url, body, h, &got) != 0;   /* warm up */
    double t0 = cpu_seconds();
    for (long i = 0; i < n; i++) {
        double s = now_us();
        failed += one_call(multi, url, body, h, &got) != 0;
        lat[i] = now_us() - s;
    }
    double cpu = (cpu_seconds() - t0) * 1e6 / (double)n;
    qsort(lat, (size_t)n, sizeof(double), cmp);
    printf("bare cpu_us=%.1f p50_us=%.1f p99_us=%.1f failed=%d\n", cpu, lat[n / 2], lat[n * 99 / 100], failed);
    free(lat);
    curl_slist_free_all(h);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
