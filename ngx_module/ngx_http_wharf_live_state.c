
/*
 * wharf: the live registry's state file (wharf_registry_state).
 *
 * A JSON document of every live worker, written by the process that made
 * a change before it answers (ngx_http_wharf_live_store.c), to a
 * temporary file beside it, fsync()ed and renamed over it, so the file is
 * always one whole state; read by the master when the zone is new.  Why
 * writers need no lock of their own: see ngx_http_wharf_live_store.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_wharf_module.h"


#define NGX_HTTP_WHARF_STATE_VERSION  1


static ngx_int_t ngx_http_wharf_state_folder(ngx_str_t *file, u_char *dir);


/*
 * Every live entry as the state file's JSON, one worker a line:
 *
 *   {"version":1,"workers":[
 *   {"name":"api","upstream":"127.0.0.1:9001","container":"api",
 *    "max_sessions":0,"terminal_path":"/terminal",
 *    "websocket_path":"/websocket"}
 *   ]}
 *
 * (each worker on one line).  The zone's mutex is held; the text goes
 * into out's pool.
 */

ngx_int_t
ngx_http_wharf_state_snapshot_locked(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_out_t *out)
{
    u_char                 *p;
    ngx_uint_t              n;
    ngx_rbtree_node_t      *node, *root, *sentinel;
    ngx_http_wharf_node_t  *wn;
    ngx_http_wharf_spec_t  *spec;

    ngx_http_wharf_out_printf(out, "{\"version\":%d,\"workers\":[",
                              NGX_HTTP_WHARF_STATE_VERSION);

    root = wmcf->sh->rbtree.root;
    sentinel = wmcf->sh->rbtree.sentinel;
    n = 0;

    if (root != sentinel) {

        for (node = ngx_rbtree_min(root, sentinel);
             node;
             node = ngx_rbtree_next(&wmcf->sh->rbtree, node))
        {
            wn = (ngx_http_wharf_node_t *) node;
            spec = wn->live;

            if (spec == NULL) {
                continue;
            }

            if (n++) {
                ngx_http_wharf_out_literal(out, ",");
            }

            ngx_http_wharf_out_literal(out, "\n");

            ngx_http_wharf_out_literal(out, "{\"name\":");
            ngx_http_wharf_out_string(out, wn->name, wn->len);

            p = spec->data;

            ngx_http_wharf_out_literal(out, ",\"upstream\":");
            ngx_http_wharf_out_string(out, p, spec->len[0]);
            p += spec->len[0];

            ngx_http_wharf_out_literal(out, ",\"container\":");
            ngx_http_wharf_out_string(out, p, spec->len[1]);
            p += spec->len[1];

            ngx_http_wharf_out_printf(out, ",\"max_sessions\":%ui",
                                      spec->max_sessions);

            ngx_http_wharf_out_literal(out, ",\"terminal_path\":");
            ngx_http_wharf_out_string(out, p, spec->len[2]);
            p += spec->len[2];

            ngx_http_wharf_out_literal(out, ",\"websocket_path\":");
            ngx_http_wharf_out_string(out, p, spec->len[3]);

            ngx_http_wharf_out_literal(out, "}");
        }
    }

    ngx_http_wharf_out_literal(out, "\n]}\n");

    return out->failed ? NGX_ERROR : NGX_OK;
}


/*
 * The snapshot of change number "changes" into the state file: a
 * temporary file beside it (FILE.PID.tmp), fsync()ed, renamed over it
 * unless a newer one is there already, and the folder fsync()ed so the
 * rename holds too.  NGX_ERROR with the reason in err.
 */

ngx_int_t
ngx_http_wharf_state_save(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_out_t *out, ngx_uint_t changes, ngx_log_t *log,
    u_char *err, size_t len)
{
    u_char        *p;
    size_t         size;
    ssize_t        n;
    ngx_fd_t       fd;
    ngx_err_t      e;
    ngx_uint_t     newer;
    ngx_chain_t   *cl;
    const char    *what;
    u_char         tmp[NGX_MAX_PATH + 32];
    u_char         dir[NGX_MAX_PATH + 1];

    if (wmcf->state_file.len > NGX_MAX_PATH) {
        ngx_snprintf(err, len, "the state file's name is too long%Z");
        return NGX_ERROR;
    }

    ngx_snprintf(tmp, sizeof(tmp), "%V.%P.tmp%Z", &wmcf->state_file,
                 ngx_pid);

    fd = ngx_open_file(tmp, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE,
                       NGX_FILE_DEFAULT_ACCESS);

    if (fd == NGX_INVALID_FILE) {
        e = ngx_errno;
        what = ngx_open_file_n;
        goto failed_open;
    }

    what = NULL;

    for (cl = out->out; cl && what == NULL; cl = cl->next) {
        p = cl->buf->pos;
        size = cl->buf->last - p;

        while (size) {
            n = ngx_write_fd(fd, p, size);

            if (n == -1) {
                if (ngx_errno == NGX_EINTR) {
                    continue;
                }

                what = ngx_write_fd_n;
                break;
            }

            p += n;
            size -= n;
        }
    }

    if (what == NULL && fsync(fd) == -1) {
        what = "fsync()";
    }

    e = ngx_errno;

    if (ngx_close_file(fd) == NGX_FILE_ERROR && what == NULL) {
        e = ngx_errno;
        what = ngx_close_file_n;
    }

    if (what) {
        goto failed;
    }

    ngx_shmtx_lock(&wmcf->shpool->mutex);

    newer = (wmcf->sh->written >= changes);

    if (!newer) {
        if (ngx_rename_file(tmp, wmcf->state_file.data) == NGX_FILE_ERROR) {
            e = ngx_errno;
            what = ngx_rename_file_n;

        } else {
            wmcf->sh->written = changes;
        }
    }

    ngx_shmtx_unlock(&wmcf->shpool->mutex);

    if (what) {
        goto failed;
    }

    if (newer) {
        (void) ngx_delete_file(tmp);
    }

    /* the rename itself is on disk once the folder is */

    if (ngx_http_wharf_state_folder(&wmcf->state_file, dir) == NGX_OK) {
        fd = ngx_open_file(dir, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

        if (fd != NGX_INVALID_FILE) {
            if (fsync(fd) == -1) {
                ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                              "wharf: fsync() of \"%s\" failed", dir);
            }

            (void) ngx_close_file(fd);
        }
    }

    return NGX_OK;

failed:

    (void) ngx_delete_file(tmp);

failed_open:

    p = ngx_snprintf(err, len - 64, "%s \"%s\" failed (%d: ", what, tmp, e);
    p = ngx_strerror(e, p, 60);
    *p++ = ')';
    *p = '\0';

    ngx_log_error(NGX_LOG_ERR, log, 0, "wharf: the live registry is not "
                  "saved: %s", err);

    return NGX_ERROR;
}


/*
 * The state file into a new zone.  A file that is not there is an empty
 * registry (the first start); one that cannot be read or parsed, or holds
 * an invalid worker, stops nginx from starting: saying where beats
 * starting without the workers it holds.
 */

ngx_int_t
ngx_http_wharf_state_load(ngx_http_wharf_main_conf_t *wmcf, ngx_pool_t *pool,
    ngx_log_t *log, ngx_uint_t *dropped)
{
    u_char                  *buf;
    size_t                   i;
    ssize_t                  n;
    ngx_int_t                rc;
    ngx_fd_t                 fd;
    ngx_file_t               file;
    ngx_file_info_t          fi;
    ngx_http_wharf_entry_t   e;
    json_t                  *root, *workers, *v;
    json_error_t             jerr;
    u_char                   err[NGX_HTTP_WHARF_ERROR_LEN * 2];

    fd = ngx_open_file(wmcf->state_file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN,
                       0);

    if (fd == NGX_INVALID_FILE) {

        if (ngx_errno == NGX_ENOENT) {
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      ngx_open_file_n " \"%V\" (wharf_registry_state) "
                      "failed", &wmcf->state_file);
        return NGX_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name = wmcf->state_file;
    file.log = log;

    buf = NULL;
    n = 0;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      ngx_fd_info_n " \"%V\" failed", &wmcf->state_file);

    } else if (ngx_file_size(&fi) > NGX_HTTP_WHARF_STATE_MAX) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "wharf_registry_state \"%V\" is %O bytes, more than "
                      "%d", &wmcf->state_file, ngx_file_size(&fi),
                      NGX_HTTP_WHARF_STATE_MAX);

    } else {
        buf = ngx_pnalloc(pool, ngx_file_size(&fi) + 1);

        if (buf) {
            n = ngx_read_file(&file, buf, ngx_file_size(&fi), 0);

            if (n != ngx_file_size(&fi)) {
                ngx_log_error(NGX_LOG_EMERG, log, n == -1 ? ngx_errno : 0,
                              "cannot read \"%V\" (wharf_registry_state)",
                              &wmcf->state_file);
                buf = NULL;
            }
        }
    }

    (void) ngx_close_file(fd);

    if (buf == NULL) {
        return NGX_ERROR;
    }

    root = json_loadb((const char *) buf, (size_t) n, JSON_REJECT_DUPLICATES,
                      &jerr);

    if (root == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "wharf_registry_state \"%V\", line %d: %s",
                      &wmcf->state_file, jerr.line, jerr.text);
        return NGX_ERROR;
    }

    workers = json_object_get(root, "workers");
    v = json_object_get(root, "version");

    if (!json_is_object(root) || !json_is_array(workers)
        || !json_is_integer(v)
        || json_integer_value(v) != NGX_HTTP_WHARF_STATE_VERSION)
    {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "wharf_registry_state \"%V\": not a state file of "
                      "this version, {\"version\":%d,\"workers\":[...]}",
                      &wmcf->state_file, NGX_HTTP_WHARF_STATE_VERSION);
        json_decref(root);
        return NGX_ERROR;
    }

    json_array_foreach(workers, i, v) {

        rc = ngx_http_wharf_entry_parse(pool, v, NULL, &e, err, sizeof(err));

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_EMERG, log, 0,
                          "wharf_registry_state \"%V\", line %uz (worker "
                          "%uz): %s", &wmcf->state_file, i + 2, i + 1, err);
        }

        if (rc != NGX_OK) {
            json_decref(root);
            return NGX_ERROR;
        }

        if (ngx_http_wharf_find_static(wmcf, e.name.data, e.name.len)) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "wharf: live worker \"%V\" of \"%V\" is dropped: "
                          "a wharf_worker of the configuration has its name",
                          &e.name, &wmcf->state_file);
            (*dropped)++;
            continue;
        }

        rc = ngx_http_wharf_live_link(wmcf, &e);

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_EMERG, log, 0,
                          "wharf_registry_state \"%V\", line %uz: worker "
                          "\"%V\" is there twice", &wmcf->state_file, i + 2,
                          &e.name);
        }

        if (rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_EMERG, log, 0,
                          "wharf zone (%uz bytes) is full at live worker "
                          "\"%V\" of \"%V\"; raise \"wharf_zone_size\"",
                          wmcf->shm_zone->shm.size, &e.name,
                          &wmcf->state_file);
        }

        if (rc != NGX_OK) {
            json_decref(root);
            return NGX_ERROR;
        }
    }

    json_decref(root);

    return NGX_OK;
}


/* the state file as the zone has it, written by the master */

ngx_int_t
ngx_http_wharf_state_rewrite(ngx_http_wharf_main_conf_t *wmcf,
    ngx_log_t *log)
{
    ngx_int_t              rc;
    ngx_uint_t             c;
    ngx_pool_t            *pool;
    ngx_http_wharf_out_t   out;
    u_char                 err[NGX_HTTP_WHARF_ERROR_LEN * 2];

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    ngx_http_wharf_out_init(&out, pool);

    ngx_shmtx_lock(&wmcf->shpool->mutex);
    rc = ngx_http_wharf_state_snapshot_locked(wmcf, &out);
    c = wmcf->sh->changes;
    ngx_shmtx_unlock(&wmcf->shpool->mutex);

    if (rc == NGX_OK) {
        rc = ngx_http_wharf_state_save(wmcf, &out, c, log, err, sizeof(err));
    }

    ngx_destroy_pool(pool);

    return rc;
}


/*
 * The folder of the state file must be there, and writable by the nginx
 * worker processes, which write the file: when the master runs as root,
 * they run as nginx's "user", and a folder only root may write in would
 * fail every change.  Said by "nginx -t", rather than by every PUT.
 */

ngx_int_t
ngx_http_wharf_state_dir(ngx_http_wharf_main_conf_t *wmcf, ngx_log_t *log)
{
    ngx_uint_t        ok;
    ngx_core_conf_t  *ccf;
    ngx_file_info_t   fi;
    u_char            dir[NGX_MAX_PATH + 1];

    if (ngx_http_wharf_state_folder(&wmcf->state_file, dir) != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "wharf_registry_state \"%V\": not a full path of "
                      "at most %d bytes", &wmcf->state_file, NGX_MAX_PATH);
        return NGX_ERROR;
    }

    if (ngx_file_info(dir, &fi) == NGX_FILE_ERROR || !ngx_is_dir(&fi)) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      "wharf_registry_state \"%V\": its folder \"%s\" is "
                      "not there", &wmcf->state_file, dir);
        return NGX_ERROR;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(wmcf->cycle->conf_ctx,
                                           ngx_core_module);

    if (geteuid() != 0 || ccf == NULL
        || ccf->user == (ngx_uid_t) NGX_CONF_UNSET_UINT || ccf->user == 0)
    {
        ok = (access((char *) dir, W_OK|X_OK) == 0);

    } else {
        ok = (fi.st_uid == ccf->user && (fi.st_mode & S_IWUSR)
              && (fi.st_mode & S_IXUSR))
             || (fi.st_gid == ccf->group && (fi.st_mode & S_IWGRP)
                 && (fi.st_mode & S_IXGRP))
             || ((fi.st_mode & S_IWOTH) && (fi.st_mode & S_IXOTH));
    }

    if (!ok) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "wharf_registry_state \"%V\": nginx's worker "
                      "processes cannot write in \"%s\", where the file "
                      "is written; give its \"user\" the folder",
                      &wmcf->state_file, dir);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the folder of a full path, NUL-terminated, into dir[NGX_MAX_PATH + 1] */

static ngx_int_t
ngx_http_wharf_state_folder(ngx_str_t *file, u_char *dir)
{
    size_t  n;

    if (file->len > NGX_MAX_PATH || file->len == 0 || file->data[0] != '/') {
        return NGX_ERROR;
    }

    for (n = file->len; file->data[n - 1] != '/'; n--) { /* void */ }

    n = ngx_max(n - 1, 1);

    ngx_memcpy(dir, file->data, n);
    dir[n] = '\0';

    return NGX_OK;
}

