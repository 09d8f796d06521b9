// The man page's hand-written sections, in roff. Everything that can be read from the code (commands,
// options, settings, codes, exit status) is generated in generate_man.cpp instead, so keep facts out of here
// that the code already states. Roff reminders: \- is a minus (use it in options), \fB..\fR bold,
// \fI..\fR italic, .PP new paragraph, .TP term + indented text, .nf/.fi verbatim block.
#include "commands/generate.hpp"

namespace kluster::commands::docs::text {

const char* const description =
    R"roff(Kluster keeps N PostgreSQL databases identical by sending every change through Apache Kafka.
Each database belongs to a \fInode\fR, a \fBklusterctl node run\fR process next to it.
Clients publish SQL requests to Kafka and read the nodes' responses from Kafka; they never connect to a database.
.PP
A cluster named \fIC\fR uses four topics, which \fBklusterctl init\fR creates:
.TP
\fIC\fB.ALL\fR
Every request that may change data. It has exactly one partition, so it is one total order.
Every node reads all of it in a consumer group of its own (\fIC\fB.node.\fIid\fR),
applies the requests in that order, a batch per database transaction,
and stores its position (the last applied offset) in the same transaction,
in the table \fB_kluster.position\fR of its database.
A node that restarts resumes right after that position, so each request is applied exactly once.
Kafka keeps ALL forever: it is the cluster's history.
.TP
\fIC\fB.ONE\fR
Read-only requests. The nodes share one consumer group, so exactly one node answers each,
in a read-only transaction.
.TP
\fIC\fB.RESPONSES\fR
The nodes' answers, keyed by client id. A client reads one partition, fnv1a(clientId) mod partitions.
.TP
\fIC\fB.ERRORS\fR
Node-level failures (JSON reports), for monitoring.
.PP
Because every node applies the same requests in the same order, the databases stay identical as long as
each request computes the same result everywhere. Nodes therefore refuse what would not:
volatile functions and those that read the backend or server, row orders (LIMIT, DISTINCT ON,
row_number(), string_agg()) without an ORDER BY over a unique key, random() per row, system columns,
object ids and catalogs read by a write, session SET, sequences, storing the current time, statements
that cannot run in a transaction. Session settings (TimeZone, DateStyle, search_path...) are pinned.
\fBrandom\fR() is seeded per request and \fBnow\fR() is pinned to the request's Kafka timestamp.
Each response carries a \fIresultHash\fR; \fBklusterctl exec \-\-wait all\fR compares them and
reports a divergence.
.PP
A node is a member of the cluster while its \fIC\fB.node.\fIid\fR group is active.
A stopped node keeps its place in ALL and catches up when it starts again.
)roff";

const char* const configuration = R"roff(Every setting comes from numbered layers; a later layer wins:
.RS
.IP 1. 4
built-in defaults;
.IP 2. 4
the system-wide TOML file \fI/etc/kluster/kluster.toml\fR, when it exists
(\fBKLUSTER_SYSTEM_CONFIG\fR names another; set to the empty string, none);
.IP 3. 4
the TOML file given with \fB\-\-config\fR (or \fBKLUSTER_CONFIG\fR), tables \fB[cluster]\fR,
\fB[node]\fR, \fB[database]\fR, \fB[metrics]\fR, \fB[log]\fR and \fB[kafka]\fR;
.IP 4. 4
\fBKLUSTER_*\fR environment variables;
.IP 5. 4
command-line flags.
.RE
.PP
\fBklusterctl config show\fR prints every value and the layer it came from, with secrets masked;
\fBklusterctl config check\fR \fIFILE\fR checks a node's config and tries its Kafka and its database.
An unknown key in the file is an error.
.PP
The \fB[kafka]\fR table and \fB\-X\fR \fIkey\fB=\fIvalue\fR flags pass librdkafka properties straight through
(TLS, SASL, timeouts), as \fBkcat\fR(1) does.
.PP
The database URL, which may hold a password, is never accepted as a flag: it comes from \fB[database] url\fR
or \fBKLUSTER_DATABASE_URL\fR, so it stays out of the process list.
Better still, keep the password in \fB~/.pgpass\fR or \fBPGPASSWORD\fR.
)roff";

const char* const resultCodes = R"roff(Every response carries a \fIresultCode\fR.
The codes are stable: clients may match on them, and they never change meaning.
A response with an error also carries \fIerrorMessage\fR, often a \fIhint\fR, and for errors from
PostgreSQL the exact \fIsqlState\fR.
An error from ALL is the request's outcome on every node: the request is recorded as applied (with no effect),
the nodes move on, and resending it with the same messageId answers \fBDUPLICATE\fR.
)roff";

const char* const files = R"roff(.TP
\fI/etc/kluster/kluster.toml\fR
Settings shared by every klusterctl on the machine (the layer below \fB\-\-config\fR).
.TP
\fI/etc/kluster/\fIid\fI.toml\fR, \fI/etc/kluster/\fIid\fI.env\fR
The config and the secrets (environment) of the node that \fBkluster\-node@\fIid\fB.service\fR runs.
.TP
\fInode.toml\fR
A node's configuration, given with \fB\-\-config\fR; see \fIexamples/node1.toml\fR in the source tree.
.TP
\fB_kluster.position\fR, \fB_kluster.applied\fR
Tables a node creates in its database: the ALL offset it has applied up to,
and each applied request's id, offset, result code and result hash.
They change in the same transaction as the data.
)roff";

const char* const examples =
    R"roff(Create a cluster's topics, then run a node (its database URL in the file or the environment):
.PP
.nf
.RS
klusterctl init \-\-brokers 127.0.0.1:9092 \-\-cluster shop
KLUSTER_DATABASE_URL=postgresql://kluster@127.0.0.1/shop1 \e
  klusterctl node run \-\-config node1.toml
.RE
.fi
.PP
Change data on every node and wait until each live node answered; then read from one node:
.PP
.nf
.RS
klusterctl exec \-\-cluster shop \-\-wait all \e
  "INSERT INTO item (id, name) VALUES (\(aq7f0c...\(aq, \(aqpen\(aq)"
klusterctl exec \-\-cluster shop \-o json "SELECT count(*) FROM item"
.RE
.fi
.PP
Pass values as parameters rather than in the SQL text:
.PP
.nf
.RS
klusterctl exec \-\-cluster shop \-p 42 \-p pen "UPDATE item SET name = $2 WHERE id = $1"
.RE
.fi
.PP
Show where each setting of a node comes from:
.PP
.nf
.RS
klusterctl config show \-\-config node1.toml
.RE
.fi
.PP
Measure the latency of one exec against a running cluster:
.PP
.nf
.RS
klusterctl bench exec \-\-cluster shop \-\-count 50
.RE
.fi
)roff";

const char* const seeAlso = R"roff(\fBpsql\fR(1), \fBkcat\fR(1), \fBpostgres\fR(1).
The pages in docs/ of the source tree describe the configuration, the message format and the
guarantees; ARCHITECTURE.md describes the design.
)roff";

} // namespace kluster::commands::docs::text
