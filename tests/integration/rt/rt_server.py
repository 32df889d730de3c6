"""A real Request Tracker 5 for the tests: Debian's packages (scripts/install-rt.sh), its own
site config and SQLite database in a temp dir, RT's standalone server on a free loopback port.

RT reads its site config from ``RT_SITE_CONFIG``/``RT_SITE_CONFIG_DIR`` (RT::Config), so the
system's /etc/request-tracker5 is never read nor changed. The database is set up the way an RT
admin would: ``rt-setup-database --action init``, then the test's queue and users, then the
ticketflow initialdata that docs/connectors/rt.md tells admins to load (user, custom fields,
scrip), then an auth token for the ``ticketflow`` user. Outgoing mail goes to a file through a
fake sendmail, so a test can read what the customer was sent.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

RT_SERVER = Path("/usr/share/request-tracker5/libexec/rt-server")
RT_SETUP = Path("/usr/sbin/rt-setup-database-5")
RT_MAILGATE = Path("/usr/bin/rt-mailgate-5")
ROOT = Path(__file__).resolve().parents[3]
TICKETFLOW_INITIALDATA = ROOT / "docs" / "connectors" / "rt-ticketflow.initialdata"
QUEUE = "Support"
TAGS_FIELD = "Ticketflow Tags"  # a test-only multi-value field
AGENT = ("agent", "agent-password-1")  # a privileged RT user who answers customers


def rt_installed() -> bool:
    return RT_SERVER.exists() and RT_SETUP.exists()


@dataclass
class RTServer:
    url: str
    token: str  # the ticketflow user's REST2 auth token
    root: Path
    proc: subprocess.Popen[bytes]

    @property
    def rest(self) -> str:
        return f"{self.url}/REST/2.0"

    def client(self, token: str | None = None) -> httpx.Client:
        """A REST2 client authenticated as the ticketflow user (or another token)."""
        return httpx.Client(
            base_url=self.rest,
            headers={"Authorization": f"token {token or self.token}"},
            timeout=30,
        )

    def agent(self) -> httpx.Client:
        """A REST2 client for the agent (Basic auth, which RT5's REST2 accepts)."""
        return httpx.Client(base_url=self.rest, auth=AGENT, timeout=30)

    def mail_in(self, message: bytes, action: str = "correspond") -> None:
        """Feed an email to RT the way the MTA does (rt-mailgate to the mail gateway)."""
        subprocess.run(
            [str(RT_MAILGATE), "--queue", QUEUE, "--action", action, "--url", self.url],
            input=message,
            check=True,
            capture_output=True,
            timeout=60,
        )

    def outgoing_mail(self) -> str:
        path = self.root / "outgoing.mbox"
        return path.read_text(errors="replace") if path.exists() else ""

    def mails_with(self, text: str) -> int:
        """How many outgoing messages contain ``text`` (a message has a text and an HTML part)."""
        return sum(text in m for m in self.outgoing_mail().split("From rt@localhost\n")[1:])

    def log(self) -> str:
        return (self.root / "rt.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            # SIGTERM, not SIGINT: rt-server's SIGINT handler chowns /var/lib/request-tracker5.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _site_config(root: Path, port: int, webhook_url: str, webhook_secret: str) -> str:
    return f"""
Set($rtname, 'ticketflow-test');
Set($Organization, 'ticketflow.test');
Set($Timezone, 'UTC');
Set($WebDomain, '127.0.0.1');
Set($WebPort, {port});
Set($WebPath, '');
Set($WebBaseURL, 'http://127.0.0.1:{port}');
Set($DatabaseType, 'SQLite');
Set($DatabaseName, '{root}/rt.sqlite');
Set($LogToSTDERR, 'warning');
Set($LogToSyslog, undef);
Set($LogToFile, undef);
Set($CorrespondAddress, 'support@ticketflow.test');
Set($CommentAddress, 'support-comment@ticketflow.test');
Set($MailCommand, 'sendmailpipe');
Set($SendmailPath, '{root}/sendmail');
Set($SendmailArguments, '');
Set($TicketflowQueue, '{QUEUE}');
Set($TicketflowWebhookURL, '{webhook_url}');
Set($TicketflowWebhookSecret, '{webhook_secret}');
1;
"""


_TEST_DATA = f"""
@Queues = ({{ Name => '{QUEUE}', CorrespondAddress => 'support@ticketflow.test',
             CommentAddress => 'support-comment@ticketflow.test' }});
@Users = ({{ Name => '{AGENT[0]}', EmailAddress => 'agent@ticketflow.test', RealName => 'Ana Agent',
            Privileged => 1, Password => '{AGENT[1]}' }});
# Customers write in by email (the mail gateway): the usual Everyone rights on the queue.
@ACL = (
    (map {{ {{ GroupDomain => 'SystemInternal', GroupType => 'Everyone', Queue => '{QUEUE}',
             Right => $_ }} }} qw(CreateTicket ReplyToTicket)),
    {{ UserId => '{AGENT[0]}', Right => 'SuperUser' }},
);
1;
"""

# After the ticketflow initialdata: a multi-value field for ``tags_field``, and the token.
_TOKEN_DATA = f"""
@CustomFields = ({{ Name => '{TAGS_FIELD}', Type => 'FreeformMultiple',
                   LookupType => 'RT::Queue-RT::Ticket', Queue => ['{QUEUE}'] }});
@ACL = (map {{ {{ UserId => 'ticketflow', CF => '{TAGS_FIELD}', Right => $_ }} }}
        qw(SeeCustomField ModifyCustomField));
@Final = (sub {{
    my $user = RT::User->new(RT->SystemUser);
    $user->Load('ticketflow');
    my $token = RT::AuthToken->new(RT->SystemUser);
    my ($ok, $msg, $auth) = $token->Create(Owner => $user->Id, Description => 'ticketflow');
    die "auth token: $msg" unless $ok;
    open my $fh, '>', $ENV{{TICKETFLOW_TOKEN_FILE}} or die $!;
    print $fh $auth;
    close $fh;
}});
1;
"""


def _setup(env: dict[str, str], log: Path, *args: str) -> None:
    with log.open("ab") as out:
        subprocess.run(
            [str(RT_SETUP), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=300,
        )


def start_rt(root: Path, webhook_url: str, webhook_secret: str) -> RTServer:
    """Set up a fresh RT in ``root`` and start its server; raise with RT's log if it fails."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "site.d").mkdir(exist_ok=True)
    port = free_port()
    (root / "RT_SiteConfig.pm").write_text(
        _site_config(root, port, webhook_url, webhook_secret), encoding="utf-8"
    )
    sendmail = root / "sendmail"
    sendmail.write_text(
        f'#!/bin/sh\n{{ echo "From rt@localhost"; cat; echo; }} >> {root}/outgoing.mbox\n'
    )
    sendmail.chmod(0o755)
    (root / "test.initialdata").write_text(_TEST_DATA, encoding="utf-8")
    (root / "token.initialdata").write_text(_TOKEN_DATA, encoding="utf-8")
    env = {
        **os.environ,
        "RT_SITE_CONFIG": str(root / "RT_SiteConfig.pm"),
        "RT_SITE_CONFIG_DIR": str(root / "site.d"),
        "TICKETFLOW_TOKEN_FILE": str(root / "token"),
    }
    log = root / "rt.log"
    _setup(env, log, "--action", "init")
    for data in (root / "test.initialdata", TICKETFLOW_INITIALDATA, root / "token.initialdata"):
        _setup(env, log, "--action", "insert", "--datafile", str(data))
    serve = [str(RT_SERVER), "--server", "Starlet", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*serve, "--max-workers", "3"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RTServer(f"http://127.0.0.1:{port}", (root / "token").read_text().strip(), root, proc)
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"rt-server exited with {proc.returncode}:\n{server.log()[-3000:]}")
        try:
            with server.client() as c:
                if c.get("/rt").status_code == 200:
                    return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"rt-server did not answer in 120 s:\n{server.log()[-3000:]}")
        time.sleep(0.5)


def remove(server: RTServer) -> None:
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)
