"""The files a stack file may make smtp-iac read (``{file: PATH}`` passwords, ``verify.ca_file``),
and reading one the way an attacker's pull request cannot abuse.

A stack file comes from anyone who can open a pull request, and the file it names is read and
(for a password) sent to a host the same stack file chooses. So (SPEC "Stack file"):

- A path is relative to the stack file's directory; it is resolved (every symlink followed)
  BEFORE it is judged.
- A password file must then lie inside the stack's repository (the nearest directory at or above the stack
  file that holds ``.git``; without one, the stack file's own directory) or inside a directory
  listed in ``SMTP_IAC_SECRET_DIRS`` (colon-separated, set by the pipeline: CI secret mounts
  such as ``/run/secrets`` live outside the repository). A stack file cannot widen this.
  ``verify.ca_file`` is not confined: it is only ever used as trust anchors, never sent, and
  private CAs are installed system-wide (``/usr/local/share/ca-certificates``); the other
  rules hold for it.
- It is never the store's database or key file, whatever the path (compared by device and
  inode, so a hard link or a second name does not get through).
- It must be a regular file: a FIFO would block the pipeline forever, a device could be
  endless. It is opened without blocking and without following a last-moment symlink, checked
  with ``fstat`` on the open descriptor, and read only up to a size limit.

``FileScope`` holds the rule for one stack; ``problem`` is the check ``validate`` makes
(located by the caller; a file that does not exist is no problem there: secret files are
written by the pipeline that applies, never committed), ``read`` is the check made at the
moment of reading.
Errors are ``FileRefused``; they name the reference as written, never the file's content.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import FileRefused

ENV_SECRET_DIRS = "SMTP_IAC_SECRET_DIRS"
MAX_SECRET_FILE = 64 * 1024
"""A password file larger than this is not a password."""
MAX_CA_FILE = 4 * 1024 * 1024
"""A PEM bundle of every public CA is about 220 KB; a private CA bundle is far smaller."""


@dataclass(frozen=True)
class FileScope:
    base_dir: Path
    """Relative references start here: the stack file's directory (as given, not resolved)."""
    roots: tuple[Path, ...]
    """Resolved directories a reference may reach: the repository, then SMTP_IAC_SECRET_DIRS."""
    forbidden: tuple[Path, ...] = ()
    """Files never read: the store's database, its journal files and its key file."""

    @classmethod
    def of_stack(
        cls, stack_file: Path, *, store_files: Iterable[Path] = (), environ: Mapping[str, str] | None = None
    ) -> FileScope:
        env = os.environ if environ is None else environ
        base = stack_file.parent
        roots = [repository_root(stack_file)]
        for entry in env.get(ENV_SECRET_DIRS, "").split(os.pathsep):
            if entry.strip() and os.path.isabs(entry.strip()):
                roots.append(Path(entry.strip()).resolve())
        return cls(base, tuple(dict.fromkeys(roots)), tuple(store_files))

    def forbidding(self, paths: Iterable[Path]) -> FileScope:
        """The same scope, with more files that may never be read (the store actually opened)."""
        return replace(self, forbidden=tuple(dict.fromkeys((*self.forbidden, *paths))))

    # ----- the rule ---------------------------------------------------------------------

    def _target(self, ref: str) -> Path:
        p = Path(ref)
        return (p if p.is_absolute() else self.base_dir / p).resolve()

    def _outside(self, target: Path) -> str | None:
        if any(target.is_relative_to(root) for root in self.roots):
            return None
        where = f"the stack's repository ({self.roots[0]})"
        extra = [str(r) for r in self.roots[1:]]
        allowed = f"{where} or {ENV_SECRET_DIRS} ({', '.join(extra)})" if extra else where
        return (
            f"resolves to {target}, outside {allowed}; a stack file may only name files in its "
            f"repository, or in a directory the pipeline lists in {ENV_SECRET_DIRS}"
        )

    def _forbidden(self, target: Path, st: os.stat_result | None) -> bool:
        for f in self.forbidden:
            try:
                fst = os.stat(f)
            except OSError:
                if target == f.resolve():
                    return True
                continue
            if target == f.resolve() or (st is not None and (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)):
                return True
        return False

    def problem(self, ref: str, *, confined: bool = True) -> str | None:
        """What is wrong with a reference as ``validate`` sees it, or None (also when the file
        does not exist yet). ``confined``: to the repository and SMTP_IAC_SECRET_DIRS
        (passwords; not verify.ca_file)."""
        try:
            target = self._target(ref)
        except (OSError, RuntimeError, ValueError) as e:  # a symlink loop, a NUL
            return f"cannot be resolved: {_why(e)}"
        outside = self._outside(target) if confined else None
        if outside:
            return outside
        try:
            st = os.stat(target)
        except OSError:
            st = None
        if self._forbidden(target, st):
            return _FORBIDDEN
        if st is not None and not stat.S_ISREG(st.st_mode):
            return f"is {_kind(st.st_mode)}, not a regular file ({target})"
        return None

    def read(self, ref: str, *, what: str, limit: int) -> bytes:
        """The bytes of the file ``ref`` names, under the rule; ``FileRefused`` otherwise.
        ``what`` names the reference in messages (``password reference file:...``)."""
        try:
            target = self._target(ref)
        except (OSError, RuntimeError, ValueError) as e:
            raise FileRefused(f"{what}: cannot be resolved: {_why(e)}") from None
        outside = self._outside(target)
        if outside:
            raise FileRefused(f"{what}: {outside}")
        return read_regular(target, what=what, limit=limit, refuse=self._refusal(target), follow=False)

    def _refusal(self, target: Path) -> Callable[[os.stat_result], str | None]:
        return lambda st: _FORBIDDEN if self._forbidden(target, st) else None


_FORBIDDEN = "is the store's database or key file, which a stack file may never name"


def read_regular(
    path: Path,
    *,
    what: str,
    limit: int,
    refuse: Callable[[os.stat_result], str | None] | None = None,
    follow: bool = True,
) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit``; ``FileRefused`` naming
    ``what`` otherwise. Also for the files a command is pointed at (stack, tenants and plan
    files): their path comes from the pipeline, but a pull request can make one a symlink
    to ``/dev/zero`` or a FIFO. Opened without blocking, judged by ``fstat`` on the open
    descriptor, read only up to the limit whatever the size said. ``refuse`` may refuse the
    file by its ``fstat`` (the store's own files). ``follow=False`` for a path already
    resolved: a symlink put in its place since is not followed."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise FileRefused(f"{what}: {_why(e)} ({path})") from None
    try:
        st = os.fstat(fd)
        why = refuse(st) if refuse is not None else None
        if why:
            raise FileRefused(f"{what}: {why}")
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused(f"{what}: is {_kind(st.st_mode)}, not a regular file ({path})")
        if st.st_size > limit:
            raise FileRefused(f"{what}: is larger than {limit} bytes")
        with os.fdopen(os.dup(fd), "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as e:
        raise FileRefused(f"{what}: {_why(e)}") from None
    finally:
        os.close(fd)
    if len(raw) > limit:  # it grew between fstat and read
        raise FileRefused(f"{what}: is larger than {limit} bytes")
    return raw


def repository_root(stack_file: Path) -> Path:
    """The nearest directory at or above the stack file holding ``.git`` (a directory, or a
    file in a worktree or submodule); without one, the stack file's directory. Resolved."""
    start = stack_file.resolve().parent
    for d in (start, *start.parents):
        if os.path.lexists(d / ".git"):
            return d
    return start


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _why(e: BaseException) -> str:
    if isinstance(e, OSError):
        return e.strerror or type(e).__name__
    return str(e) or type(e).__name__
