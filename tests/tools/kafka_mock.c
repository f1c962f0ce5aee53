/*
 * kafka_mock.c - a Kafka cluster for tests: librdkafka's mock cluster on
 * loopback ports, hosted by this process (built with the tests, never
 * installed).
 *
 *   kafka_mock [--brokers N] [--topic NAME:PARTITIONS[:REPLICATION]]... [--wait]
 *
 * It creates the topics (the mock has no CreateTopics, and a metadata
 * request for an unknown topic would create it with 4 partitions), prints
 *
 *   BOOTSTRAP 127.0.0.1:PORT,127.0.0.1:PORT,127.0.0.1:PORT
 *
 * on stdout, and then runs until stdin closes, a `quit` line, SIGTERM or
 * SIGINT (with --wait it ignores stdin and waits for a signal). The mock
 * keeps only ~5 MB per partition (older data is dropped): size tests to fit.
 *
 * Fault injection, one command per line on stdin, each answered with a
 * line "OK" or "ERR <why>" on stdout:
 *
 *   topic NAME PARTITIONS [REPLICATION]   create a topic
 *   produce_errors COUNT ERR              the next COUNT Produce requests fail with ERR
 *   request_errors API COUNT ERR          the same for any request type
 *   clear_errors [API]                    forget injected errors (default Produce)
 *   broker_down ID | broker_up ID         disconnect / reconnect a broker (-1 = all)
 *   rtt ID MS                             delay a broker's answers (-1 = all)
 *   quit
 *
 * ERR is an error name as librdkafka spells it (NOT_ENOUGH_REPLICAS,
 * INVALID_RECORD, _TRANSPORT, with or without RD_KAFKA_RESP_ERR_) or its
 * number; API is a request name (Produce, Fetch, Metadata, OffsetCommit,
 * JoinGroup, ...) or its ApiKey number.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void usage(FILE *out)
{
    fputs("usage: kafka_mock [--brokers N] [--topic NAME:PARTITIONS[:REPLICATION]]... [--wait]\n"
          "Hosts librdkafka's mock cluster on loopback, prints BOOTSTRAP <list>, then reads\n"
          "fault-injection commands on stdin until it closes (see the file header).\n",
          out);
}

static int create_topic(rd_kafka_mock_cluster_t *mc, int brokers, const char *name,
                        int partitions, int replication, char *why, size_t whylen)
{
    if (partitions < 1) {
        snprintf(why, whylen, "topic %s: partitions must be >= 1", name);
        return -1;
    }
    if (replication < 1)
        replication = 1;
    if (replication > brokers)
        replication = brokers;
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, partitions, replication);
    if (err) {
        snprintf(why, whylen, "topic %s: %s", name, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

/* "NAME:PARTITIONS[:REPLICATION]" */
static int topic_arg(rd_kafka_mock_cluster_t *mc, int brokers, const char *arg)
{
    char name[256], why[300];
    int partitions = 0, replication = 1;
    const char *colon = strchr(arg, ':');
    if (!colon || (size_t)(colon - arg) >= sizeof name || colon == arg) {
        fprintf(stderr, "kafka_mock: --topic %s: expected NAME:PARTITIONS[:REPLICATION]\n", arg);
        return -1;
    }
    memcpy(name, arg, (size_t)(colon - arg));
    name[colon - arg] = '\0';
    if (sscanf(colon + 1, "%d:%d", &partitions, &replication) < 1) {
        fprintf(stderr, "kafka_mock: --topic %s: bad partition count\n", arg);
        return -1;
    }
    if (create_topic(mc, brokers, name, partitions, replication, why, sizeof why)) {
        fprintf(stderr, "kafka_mock: %s\n", why);
        return -1;
    }
    return 0;
}

static int parse_error(const char *s, rd_kafka_resp_err_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end) {
        *out = (rd_kafka_resp_err_t)v;
        return 0;
    }
    if (strncmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0)
        s += 18;
    const struct rd_kafka_err_desc *descs;
    size_t n;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++)
        if (descs[i].name && strcmp(descs[i].name, s) == 0) {
            *out = descs[i].code;
            return 0;
        }
    return -1;
}

static int parse_api(const char *s, int16_t *out)
{
    static const struct { const char *name; int16_t key; } apis[] = {
        { "Produce", 0 },         { "Fetch", 1 },          { "ListOffsets", 2 },
        { "Metadata", 3 },        { "OffsetCommit", 8 },   { "OffsetFetch", 9 },
        { "FindCoordinator", 10 }, { "JoinGroup", 11 },    { "Heartbeat", 12 },
        { "LeaveGroup", 13 },     { "SyncGroup", 14 },     { "InitProducerId", 22 },
    };
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end && v >= 0 && v < 100) {
        *out = (int16_t)v;
        return 0;
    }
    for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++)
        if (strcasecmp(apis[i].name, s) == 0) {
            *out = apis[i].key;
            return 0;
        }
    return -1;
}

static void push_errors(rd_kafka_mock_cluster_t *mc, int16_t api, long count,
                        rd_kafka_resp_err_t err)
{
    rd_kafka_resp_err_t *v = malloc((size_t)count * sizeof *v);
    for (long i = 0; i < count; i++)
        v[i] = err;
    rd_kafka_mock_push_request_errors_array(mc, api, (size_t)count, v);
    free(v);
}

/* One command line; returns 1 on quit. Writes the answer line. */
static int command(rd_kafka_mock_cluster_t *mc, int brokers, char *line)
{
    char *argv[8];
    int argc = 0;
    for (char *tok = strtok(line, " \t\r\n"); tok && argc < 8; tok = strtok(NULL, " \t\r\n"))
        argv[argc++] = tok;
    char why[300] = "";
    int ok = 1;
    rd_kafka_resp_err_t err;
    int16_t api;
    if (argc == 0)
        return 0;
    if (strcmp(argv[0], "quit") == 0) {
        puts("OK");
        return 1;
    } else if (strcmp(argv[0], "topic") == 0 && (argc == 3 || argc == 4)) {
        ok = create_topic(mc, brokers, argv[1], atoi(argv[2]), argc == 4 ? atoi(argv[3]) : 1,
                          why, sizeof why) == 0;
    } else if (strcmp(argv[0], "produce_errors") == 0 && argc == 3) {
        long count = atol(argv[1]);
        if (count < 1 || count > 10000000 || parse_error(argv[2], &err)) {
            ok = 0;
            snprintf(why, sizeof why, "produce_errors COUNT ERR: bad count or error name");
        } else {
            push_errors(mc, 0, count, err);
        }
    } else if (strcmp(argv[0], "request_errors") == 0 && argc == 4) {
        long count = atol(argv[2]);
        if (parse_api(argv[1], &api) || count < 1 || count > 10000000 ||
            parse_error(argv[3], &err)) {
            ok = 0;
            snprintf(why, sizeof why, "request_errors API COUNT ERR: bad argument");
        } else {
            push_errors(mc, api, count, err);
        }
    } else if (strcmp(argv[0], "clear_errors") == 0 && argc <= 2) {
        api = 0;
        if (argc == 2 && parse_api(argv[1], &api)) {
            ok = 0;
            snprintf(why, sizeof why, "clear_errors [API]: unknown request %s", argv[1]);
        } else {
            rd_kafka_mock_clear_request_errors(mc, api);
        }
    } else if ((strcmp(argv[0], "broker_down") == 0 || strcmp(argv[0], "broker_up") == 0) &&
               argc == 2) {
        int32_t id = atoi(argv[1]);
        err = argv[0][7] == 'd' ? rd_kafka_mock_broker_set_down(mc, id)
                                : rd_kafka_mock_broker_set_up(mc, id);
        if (err) {
            ok = 0;
            snprintf(why, sizeof why, "%s %d: %s", argv[0], id, rd_kafka_err2str(err));
        }
    } else if (strcmp(argv[0], "rtt") == 0 && argc == 3) {
        err = rd_kafka_mock_broker_set_rtt(mc, atoi(argv[1]), atoi(argv[2]));
        if (err) {
            ok = 0;
            snprintf(why, sizeof why, "rtt: %s", rd_kafka_err2str(err));
        }
    } else {
        ok = 0;
        snprintf(why, sizeof why, "unknown command or wrong arguments: %s", argv[0]);
    }
    if (ok)
        puts("OK");
    else
        printf("ERR %s\n", why);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    int brokers = 3;
    int wait_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
            brokers = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--wait") == 0) {
            wait_only = 1;
        } else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc) {
            i++; /* created below, once the cluster exists */
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (brokers < 1 || brokers > 16) {
        fprintf(stderr, "kafka_mock: --brokers must be 1..16\n");
        return 2;
    }

    /* The mock lives in a handle of its own; nothing is produced through it. */
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!host) {
        fprintf(stderr, "kafka_mock: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(host, brokers);
    if (!mc) {
        fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
        rd_kafka_destroy(host);
        return 1;
    }
    int status = 0;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--topic") == 0 && topic_arg(mc, brokers, argv[++i]))
            status = 2;
        else if (strcmp(argv[i], "--brokers") == 0)
            i++;
    if (status)
        goto out;

    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    char line[1024];
    size_t len = 0;
    while (!stop_signal) {
        if (wait_only) {
            pause();
            continue;
        }
        struct pollfd pfd = { .fd = 0, .events = POLLIN };
        int r = poll(&pfd, 1, 200);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        ssize_t k = read(0, line + len, sizeof line - 1 - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break; /* stdin closed */
        len += (size_t)k;
        line[len] = '\0';
        char *nl;
        int quit = 0;
        while (!quit && (nl = strchr(line, '\n'))) {
            *nl = '\0';
            quit = command(mc, brokers, line);
            len -= (size_t)(nl + 1 - line);
            memmove(line, nl + 1, len + 1);
        }
        if (quit)
            break;
        if (len == sizeof line - 1) /* an overlong line: drop it */
            len = 0;
    }
out:
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);
    return status;
}
