// The affinity token nginx hashes a request by (see bridge.conf). 16 hex digits.
const crypto = require('crypto');

function token(kind, value) {
    return crypto.createHash('sha256').update(kind + ':' + value).digest('hex').slice(0, 16);
}

// The JSON body, only when it may name what we look for (agents send large histories).
function body(r, field) {
    if (r.method !== 'POST') {
        return null;
    }
    const text = r.requestText; // undefined when the body did not fit in memory
    if (!text || text.indexOf('"' + field + '"') < 0) {
        return null;
    }
    try {
        const parsed = JSON.parse(text);
        return parsed !== null && typeof parsed === 'object' ? parsed : null;
    } catch (e) {
        return null;
    }
}

function session(r) {
    const header = r.headersIn['X-Session-ID'];
    if (header) {
        return header;
    }
    if (r.uri === '/v1/chat/completions') {
        const parsed = body(r, 'session_id');
        if (parsed && typeof parsed.session_id === 'string' && parsed.session_id) {
            return parsed.session_id;
        }
    }
    return '';
}

// A response id the bridge issued behind this nginx starts with the token its chain is routed by.
function chain(r) {
    if (r.uri !== '/v1/responses') {
        return '';
    }
    const parsed = body(r, 'previous_response_id');
    const previous = parsed ? parsed.previous_response_id : null;
    if (typeof previous !== 'string' || !previous) {
        return '';
    }
    const match = /^resp_([0-9a-f]{16})[0-9a-f]{32}$/.exec(previous);
    return match ? match[1] : token('r', previous);
}

// An agent app's own id for its conversation (Codex CLI: thread-id and session-id).
function conversation(r) {
    return r.headersIn['thread-id'] || r.headersIn['session-id'] || r.headersIn['conversation-id'] || '';
}

function affinity(r) {
    const sid = session(r);
    if (sid) {
        return token('s', sid);
    }
    const inherited = chain(r);
    if (inherited) {
        return inherited;
    }
    const own = conversation(r);
    if (own) {
        return token('t', own);
    }
    const client = r.variables.bridge_client_key;
    if (client) {
        return token('c', client);
    }
    return token('a', r.variables.remote_addr);
}

export default { affinity };
