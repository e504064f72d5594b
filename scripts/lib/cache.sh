# Sourced by wharf's scripts: the cache folder that outlives a checkout
# (debootstrap base images, the test Docker daemon's data root, nginx
# builds). WHARF_CACHE wins; else /var/cache/wharf when it can be written
# (root), else ${XDG_CACHE_HOME:-~/.cache}/wharf.
wharf_cache_dir() {
    if [ -n "${WHARF_CACHE:-}" ]; then
        :
    elif mkdir -p /var/cache/wharf 2>/dev/null && [ -w /var/cache/wharf ]; then
        WHARF_CACHE=/var/cache/wharf
    else
        WHARF_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/wharf
    fi
    mkdir -p "$WHARF_CACHE"
    printf '%s\n' "$WHARF_CACHE"
}
