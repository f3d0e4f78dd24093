// The launch page: sign in with a browser wallet (EIP-1193), see the
// balance and the profiles, claim (a desktop, or an SSH shell where the
// worker offers it: "ssh" in the profiles), wait in line, use the desktop
// or see the ssh command, release.
// Plain JavaScript against the gate's JSON API; the token lives in the
// HttpOnly cookie verify-wallet sets, so every fetch here carries it.

'use strict';

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
const HEARTBEAT_MS = 30000;
const LOW_MINUTES = 10;

let pollTimer = null;
let heartbeatTimer = null;
let lastSession = null;
let frameLoads = null;     // noVNC's frame: since when it loads, reloads

// A request that fails or gets no answer within API_TIMEOUT_MS is status 0
// with an error the page shows, never an exception: the session poll and
// the heartbeat go on after a dropped connection instead of stopping.
const API_TIMEOUT_MS = 20000;

async function api(path, opts = {}) {
    let res;
    try {
        res = await fetch(path, {
            credentials: 'same-origin',
            headers: opts.body ? { 'content-type': 'application/json' } : {},
            signal: AbortSignal.timeout(API_TIMEOUT_MS),
            ...opts,
        });
    } catch (e) {
        return { status: 0, body: { error: { code: 'unreachable',
            message: `The gate did not answer (${e.name === 'TimeoutError' ? 'timed out' : e.message}); retrying.` } } };
    }
    let body = null;
    try { body = await res.json(); } catch { /* empty */ }
    return { status: res.status, body };
}

// what a person can act on, from the API's error codes
const MESSAGES = {
    insufficient_credits: e => (e.needed_minutes
        ? `This profile needs ${e.needed_minutes} credit minutes to start (the first minute`
          + (e.grace_minutes ? ` and ${e.grace_minutes} minutes of grace, billed if used` : '')
          + `); your balance is ${e.balance_minutes}: deposit first.`
        : 'Your balance does not pay for the first minute of this profile: deposit first.'),
    session_exists: 'You already have a session: release it before claiming another.',
    unknown_profile: 'That profile does not exist any more: reload the page.',
    ssh_disabled: 'SSH sessions are not offered here any more: reload the page.',
    worker_unavailable: 'The platform is starting up; try again in a moment.',
    redis_unavailable: 'The gate is briefly unavailable; try again in a moment.',
    rate_limited: 'Too many attempts: wait a second and try again.',
    wrong_signer: 'The signature is not from the connected account. Switch accounts in your wallet and retry.',
    expired: 'The sign-in request expired: try again.',
    unknown_nonce: 'That sign-in request was already used or expired: try again.',
    domain_mismatch: 'The wallet signed for another site.',
    chain_mismatch: 'Your wallet is on another network than this gate expects.',
};

function showError(e) {
    const code = e && e.error && e.error.code;
    const m = MESSAGES[code];
    const text = (typeof m === 'function' ? m(e.error) : m)
        || (e && e.error && e.error.message) || String(e && e.message || e);
    $('error').textContent = text;
    $('error').hidden = false;
}

function clearError() { $('error').hidden = true; }

function show(section, on) { $(section).hidden = !on; }

async function signIn() {
    clearError();
    const eth = window.ethereum;
    if (!eth) { $('nowallet').hidden = false; return; }
    $('connect').disabled = true;
    try {
        const [address] = await eth.request({ method: 'eth_requestAccounts' });
        const c = await api(`/api/auth/challenge?address=${encodeURIComponent(address)}`);
        if (c.status !== 200) throw c.body;
        const hex = '0x' + Array.from(new TextEncoder().encode(c.body.message))
            .map((b) => b.toString(16).padStart(2, '0')).join('');
        const signature = await eth.request({ method: 'personal_sign', params: [hex, address] });
        const v = await api('/api/auth/verify-wallet', {
            method: 'POST',
            body: JSON.stringify({ message: c.body.message, signature }),
        });
        if (v.status !== 200) throw v.body;
        await refresh();
    } catch (e) {
        if (e && e.code === 4001) {
            $('error').textContent = 'You declined the signature in your wallet.';
            $('error').hidden = false;
        } else {
            showError(e);
        }
    } finally {
        $('connect').disabled = false;
    }
}

async function signOut() {
    await api('/api/auth/logout', { method: 'POST' });
    stopTimers();
    await refresh();
}

function stopTimers() {
    clearTimeout(pollTimer);
    clearInterval(heartbeatTimer);
    pollTimer = heartbeatTimer = null;
}

async function refresh() {
    const me = await api('/api/me');
    if (me.status === 401) {
        show('signin', true); show('account', false); show('session', false);
        $('who').textContent = ''; $('logout').hidden = true;
        return;
    }
    if (me.status !== 200) { showError(me.body); return; }

    show('signin', false); show('account', true);
    $('who').textContent = me.body.wallet;
    $('logout').hidden = false;
    $('balance').textContent = me.body.balance_minutes;

    const p = await api('/api/profiles');
    const tbody = $('profiles').querySelector('tbody');
    tbody.replaceChildren();
    for (const prof of (p.status === 200 ? p.body.profiles : [])) {
        const tr = document.createElement('tr');
        const cost = prof.gpus * prof.price;
        // a claim holds the first minute and the grace's reserve
        const need = cost * (1 + ((p.body && p.body.grace_minutes) || 0));
        for (const text of [prof.name, prof.gpus, cost]) {
            const td = document.createElement('td');
            td.textContent = text;
            tr.append(td);
        }
        const td = document.createElement('td');
        const b = document.createElement('button');
        b.textContent = 'Claim';
        b.disabled = me.body.balance_minutes < need;
        b.title = b.disabled ? (need > cost ? `a session needs ${need} credit minutes to start: the first minute and the grace`
                                            : 'not enough credit for the first minute') : '';
        b.onclick = () => claim(prof.name);
        td.append(b);
        tr.append(td);
        tbody.append(tr);
    }
    if (p.status !== 200) showError(p.body);

    // the SSH option, where the operator offers it (worker: ssh_sessions)
    const ssh = p.status === 200 && p.body.ssh === true;
    $('ssh-option').hidden = !ssh;
    if (!ssh) document.querySelector('input[name="mode"][value="desktop"]').checked = true;
    showKeyRow();

    await pollSession();
}

function mode() {
    return $('ssh-option').hidden ? 'desktop' : document.querySelector('input[name="mode"]:checked').value;
}

function showKeyRow() { $('ssh-key-row').hidden = mode() !== 'ssh'; }

async function claim(profile) {
    clearError();
    const req = { profile };
    if (mode() === 'ssh') {
        const key = $('ssh-key').value.trim();
        if (!key) {
            showError({ error: { message: 'Paste your SSH public key first (the line of your ~/.ssh/id_ed25519.pub).' } });
            return;
        }
        req.mode = 'ssh';
        req.ssh_public_key = key;
    }
    const r = await api('/api/session', { method: 'POST', body: JSON.stringify(req) });
    if (r.status !== 202) { showError(r.body); return; }
    await pollSession();
}

function describe(s) {
    switch (s.status) {
    case 'queued':
        return `Waiting in line${s.position ? `, position ${s.position}` : ''}${s.reason ? `: ${s.reason}` : ''}.`;
    case 'starting': return s.mode === 'ssh' ? 'Starting your SSH session…' : 'Starting your desktop…';
    case 'running': return `Running since ${new Date(s.started_at).toLocaleTimeString()}.`;
    case 'ending': return 'Stopping…';
    case 'ended':
        return `Ended${s.end_reason ? ` (${s.end_reason.replace(/_/g, ' ')})` : ''}; ` +
               `${s.billed_minutes ?? 0} minutes billed.`;
    default: return s.status;
    }
}

async function pollSession() {
    clearTimeout(pollTimer);
    const r = await api('/api/session');
    if (r.status === 404 || r.status === 401) {
        show('session', false);
        return;
    }
    if (r.status !== 200) { showError(r.body); pollTimer = setTimeout(pollSession, POLL_MS * 2); return; }

    const s = r.body;
    show('session', true);
    $('session-id').textContent = `#${s.session_id}`;
    $('status').textContent = describe(s);
    $('leave').hidden = s.status !== 'queued';
    $('release').hidden = !['starting', 'running'].includes(s.status);
    $('open').hidden = s.status !== 'running' || s.mode === 'ssh';

    const c = s.connect || {};
    const sshRunning = s.status === 'running' && s.mode === 'ssh' && c.port;
    $('ssh').hidden = !sshRunning;
    $('ssh-command').textContent = sshRunning
        ? `ssh -p ${c.port} -o StrictHostKeyChecking=accept-new ${c.user || 'aXonian'}@${c.host}` : '';

    const frame = $('desktop');
    if (s.status === 'running' && s.mode !== 'ssh') {
        if (frame.hidden) {
            const url = desktopUrl(s);
            $('open').href = url;
            frame.src = url;
            frame.hidden = false;
            frameLoads = { since: Date.now(), reloads: 0 };
        } else {
            watchFrame(frame);
        }
        if (!heartbeatTimer) heartbeatTimer = setInterval(heartbeat, HEARTBEAT_MS);
    } else {
        frame.hidden = true;
        frame.removeAttribute('src');
        clearInterval(heartbeatTimer);
        heartbeatTimer = null;
    }

    // ended while this page watched: the balance the page showed may miss
    // the last minute billed between the release and the stop; read it again
    const justEnded = s.status === 'ended' && lastSession !== null
        && lastSession.session_id === s.session_id && lastSession.status !== 'ended';
    lastSession = s;
    if (s.status !== 'ended') pollTimer = setTimeout(pollSession, POLL_MS);
    else if (justEnded) await refresh();
}

// noVNC shows its loading screen until every one of its ES modules has
// loaded; a module whose fetch failed (a connection dropped on the way)
// leaves it there for good, and noVNC reports nothing.  The frame is same
// origin: while it still loads after NOVNC_LOAD_MS, load it again, a few
// times, saying so in the console.
const NOVNC_LOAD_MS = 20000;
const NOVNC_RELOADS = 3;

function watchFrame(frame) {
    if (!frameLoads || frameLoads.reloads >= NOVNC_RELOADS) return;
    let loading;
    try {
        loading = frame.contentDocument.documentElement.classList.contains('noVNC_loading');
    } catch { return; }
    if (!loading || Date.now() - frameLoads.since < NOVNC_LOAD_MS) return;
    frameLoads.reloads++;
    frameLoads.since = Date.now();
    console.warn(`noVNC still loading after ${NOVNC_LOAD_MS / 1000} s: loading it again (${frameLoads.reloads} of ${NOVNC_RELOADS})`);
    frame.contentWindow.location.reload();
}

// noVNC, served by nginx (/novnc/: Debian's novnc package), connects its
// WebSocket to the session's container through the gate (connect.path,
// /desktop/, + websockify).  The session's VNC password (GET /api/session
// gives it to its owner only) goes in the fragment, which noVNC reads and
// the browser never sends to a server, so it is in no request line nor log.
function desktopUrl(s) {
    const base = (s.connect && s.connect.path) || '/desktop/';
    const path = encodeURIComponent(`${base.replace(/^\/+/, '')}websockify`);
    let url = `/novnc/vnc.html?autoconnect=1&resize=remote&reconnect=1&path=${path}`;
    if (s.connect && s.connect.password) {
        url += `#password=${encodeURIComponent(s.connect.password)}`;
    }
    return url;
}

async function heartbeat() {
    const r = await api('/api/session/heartbeat', { method: 'POST' });
    if (r.status !== 200) return;
    $('balance').textContent = r.body.balance_minutes;
    const w = $('warning');
    if (r.body.grace_until) {
        w.textContent = `Your credit is used up: the session stops at ${new Date(r.body.grace_until).toLocaleTimeString()} unless you deposit.`;
        w.hidden = false;
    } else if (lastSession && r.body.balance_minutes < LOW_MINUTES * (lastSession.gpus || 1)) {
        w.textContent = `Low credit: about ${Math.floor(r.body.balance_minutes / (lastSession.gpus || 1))} minutes left on this profile.`;
        w.hidden = false;
    } else {
        w.hidden = true;
    }
}

async function release() {
    clearError();
    const r = await api('/api/release', { method: 'POST' });
    if (r.status !== 202) showError(r.body);
    await pollSession();
    await refresh();
}

async function leave() {
    const r = await api('/api/session/queue', { method: 'DELETE' });
    if (r.status !== 202) showError(r.body);
    await pollSession();
}

$('connect').onclick = signIn;
$('logout').onclick = signOut;
$('release').onclick = release;
$('leave').onclick = leave;
for (const r of document.querySelectorAll('input[name="mode"]')) r.onchange = showKeyRow;
if (window.ethereum && window.ethereum.on) {
    window.ethereum.on('accountsChanged', () => signOut());
}
refresh().catch(showError);
