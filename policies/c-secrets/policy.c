/*
 * secrets-in-arguments: denies a tool call whose arguments contain an AWS
 * access key id (AKIA + 16 of [0-9A-Z]) or a PEM private key header
 * ("-----BEGIN ... PRIVATE KEY-----"). Allows everything else.
 *
 * The same two patterns are also declared in `metadata`, so a host that runs
 * the prefilter hands us findings; their indices are reported in the reason.
 * The policy does not depend on them: it scans the arguments itself.
 *
 * When it sees a secret it also labels the session `secret-seen`, for the
 * other policies of the set. It takes no settings: `configure` accepts `{}`.
 *
 * Implements the WIT world `portcullis:policy/policy@0.2.0` through the C
 * bindings that build.sh generates into target/gen (policy.h).
 */
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define PAT_AWS "aws-access-key-id"
#define PAT_PEM "private-key"

static void set_str(policy_string_t *s, const char *c) { policy_string_dup(s, c); }

static int str_eq(const policy_string_t *s, const char *c) {
    size_t n = strlen(c);
    return s->len == n && memcmp(s->ptr, c, n) == 0;
}

static int is_upper_or_digit(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

/* AKIA[0-9A-Z]{16} */
static int has_aws_key(const uint8_t *p, size_t n) {
    for (size_t i = 0; i + 20 <= n; i++) {
        if (memcmp(p + i, "AKIA", 4) != 0) continue;
        size_t j = 4;
        while (j < 20 && is_upper_or_digit(p[i + j])) j++;
        if (j == 20) return 1;
    }
    return 0;
}

/* -----BEGIN [A-Z ]*PRIVATE KEY----- */
static int has_private_key(const uint8_t *p, size_t n) {
    static const char begin[] = "-----BEGIN ";
    static const char tail[] = "PRIVATE KEY-----";
    const size_t bl = sizeof begin - 1, tl = sizeof tail - 1;
    for (size_t i = 0; i + bl + tl <= n; i++) {
        if (memcmp(p + i, begin, bl) != 0) continue;
        size_t j = i + bl;
        /* the label is [A-Z ]*; the tail starts somewhere inside or right after it */
        for (;;) {
            if (j + tl <= n && memcmp(p + j, tail, tl) == 0) return 1;
            if (j >= n || !((p[j] >= 'A' && p[j] <= 'Z') || p[j] == ' ')) break;
            j++;
        }
    }
    return 0;
}

/* Indices of the findings that came from pattern `id`. */
static policy_list_u32_t findings_for(const policy_list_finding_t *f, const char *id) {
    policy_list_u32_t out = {NULL, 0};
    for (size_t i = 0; i < f->len; i++)
        if (str_eq(&f->ptr[i].pattern, id)) out.len++;
    if (out.len == 0) return out;
    out.ptr = malloc(out.len * sizeof(uint32_t));
    size_t k = 0;
    for (size_t i = 0; i < f->len; i++)
        if (str_eq(&f->ptr[i].pattern, id)) out.ptr[k++] = (uint32_t)i;
    return out;
}

static void allow(policy_outcome_t *ret) {
    ret->verdict = PORTCULLIS_POLICY_TYPES_VERDICT_ALLOW;
    ret->reasons.ptr = NULL;
    ret->reasons.len = 0;
}

static void log_msg(portcullis_policy_host_level_t level, const char *msg) {
    policy_string_t s;
    policy_string_set(&s, msg); /* borrowed: the host copies it */
    portcullis_policy_host_log(level, &s);
}

void exports_policy_metadata(policy_metadata_t *ret) {
    set_str(&ret->name, "secrets-in-arguments");
    set_str(&ret->version, "0.2.0");

    ret->events.len = 1;
    ret->events.ptr = malloc(sizeof(portcullis_policy_types_event_kind_t));
    ret->events.ptr[0] = PORTCULLIS_POLICY_TYPES_EVENT_KIND_TOOL_CALL;

    ret->patterns.len = 2;
    ret->patterns.ptr = malloc(2 * sizeof(portcullis_policy_types_pattern_t));
    set_str(&ret->patterns.ptr[0].id, PAT_AWS);
    ret->patterns.ptr[0].matcher.tag = PORTCULLIS_POLICY_TYPES_MATCHER_REGEX;
    set_str(&ret->patterns.ptr[0].matcher.val.regex, "AKIA[0-9A-Z]{16}");
    set_str(&ret->patterns.ptr[1].id, PAT_PEM);
    ret->patterns.ptr[1].matcher.tag = PORTCULLIS_POLICY_TYPES_MATCHER_REGEX;
    set_str(&ret->patterns.ptr[1].matcher.val.regex, "-----BEGIN [A-Z ]*PRIVATE KEY-----");
}

/* Takes no settings: only `{}` (or `null`) is valid. */
bool exports_policy_configure(policy_string_t *settings, policy_setting_error_t *err) {
    int empty = str_eq(settings, "{}") || str_eq(settings, "null");
    if (!empty) {
        set_str(&err->field, "");
        set_str(&err->message, "secrets-in-arguments takes no settings; give it {}");
    }
    policy_string_free(settings);
    return empty;
}

/* Labels the session as having seen a secret, for the other policies. */
static void label_secret_seen(void) {
    policy_string_t label, err;
    policy_string_set(&label, "secret-seen"); /* borrowed: the host copies it */
    if (!portcullis_policy_host_add_label(&label, &err)) {
        log_msg(PORTCULLIS_POLICY_HOST_LEVEL_WARN, "could not label the session secret-seen");
        policy_string_free(&err);
    }
}

void exports_policy_check_call(policy_context_t *ctx, policy_tool_call_t *call,
                               policy_list_finding_t *findings, policy_outcome_t *ret) {
    const uint8_t *a = call->arguments.ptr;
    size_t n = call->arguments.len;
    int aws = has_aws_key(a, n), pem = has_private_key(a, n);
    policy_list_u32_t aws_f = findings_for(findings, PAT_AWS);
    policy_list_u32_t pem_f = findings_for(findings, PAT_PEM);
    aws = aws || aws_f.len > 0;
    pem = pem || pem_f.len > 0;

    if (!aws && !pem) {
        allow(ret);
    } else {
        ret->verdict = PORTCULLIS_POLICY_TYPES_VERDICT_DENY;
        ret->reasons.len = (size_t)(aws + pem);
        ret->reasons.ptr = calloc(ret->reasons.len, sizeof(portcullis_policy_types_reason_t));
        size_t k = 0;
        if (aws) {
            portcullis_policy_types_reason_t *r = &ret->reasons.ptr[k++];
            set_str(&r->rule, PAT_AWS);
            set_str(&r->message, "The tool call's arguments contain an AWS access key id.");
            r->findings = aws_f;
            aws_f.ptr = NULL;
        }
        if (pem) {
            portcullis_policy_types_reason_t *r = &ret->reasons.ptr[k++];
            set_str(&r->rule, PAT_PEM);
            set_str(&r->message, "The tool call's arguments contain a private key.");
            r->findings = pem_f;
            pem_f.ptr = NULL;
        }
        log_msg(PORTCULLIS_POLICY_HOST_LEVEL_INFO, "denied a tool call carrying a secret");
        label_secret_seen();
    }
    free(aws_f.ptr);
    free(pem_f.ptr);
    /* Arguments are owned by the callee. */
    policy_context_free(ctx);
    policy_tool_call_free(call);
    policy_list_finding_free(findings);
}

void exports_policy_check_tool(policy_context_t *ctx, policy_tool_t *tool,
                               policy_list_finding_t *findings, policy_outcome_t *ret) {
    allow(ret);
    policy_context_free(ctx);
    policy_tool_free(tool);
    policy_list_finding_free(findings);
}

void exports_policy_check_result(policy_context_t *ctx, policy_tool_result_t *result,
                                 policy_list_finding_t *findings, policy_outcome_t *ret) {
    allow(ret);
    policy_context_free(ctx);
    policy_tool_result_free(result);
    policy_list_finding_free(findings);
}
