//! How each vendor's answers to the reads (query by id, lookup by name), the verbs
//! (pause, resume, stop) and the update are read: every value of each vendor's status
//! enumeration, "no such task" where the vendor documents it, answers off the vendor's
//! shape, numbers masked; and the verb table per vendor.

use callform::driver::{
    self, answer, Context, Credentials, ErrorClass, Lifecycle, Listing, Observed, Op, Parsed, Verb,
    VerbRule,
};
use callform::manifest::Vendor;
use jiff::tz::TimeZone;

const ID: &str = "4001000129";

fn read(vendor: Vendor, op: Op, status: u16, body: &str) -> Parsed {
    op.classify(vendor, status, body.as_bytes(), false, Some(ID))
}

fn listing(vendor: Vendor, op: Op, body: &str) -> Listing {
    match read(vendor, op, 200, body) {
        Parsed::Read { listing, .. } => listing,
        other => panic!("{vendor} {op:?} {body}: expected a listing, got {other:?}"),
    }
}

fn one(vendor: Vendor, body: &str) -> Observed {
    let l = listing(vendor, Op::Query, body);
    assert_eq!(l.tasks.len(), 1, "{vendor} {body}: {l:?}");
    l.tasks.into_iter().next().unwrap()
}

fn failed(vendor: Vendor, op: Op, status: u16, body: &str) -> Parsed {
    let p = read(vendor, op, status, body);
    assert!(
        matches!(p, Parsed::Uncertain { .. } | Parsed::Rejected { .. }),
        "{vendor} {op:?} HTTP {status} {body}: expected a failed read, got {p:?}"
    );
    p
}

fn context() -> Context {
    Context {
        timezone: TimeZone::get("Asia/Shanghai").unwrap(),
        credentials: Credentials {
            token: Some("canary-token-XYZ".into()),
            user_id: Some("u1".into()),
            access_key_id: Some("canary-akid-XYZ".into()),
            access_key_secret: Some("canary-aksecret-XYZ".into()),
            access_key: Some("canary-ak-XYZ".into()),
            secret_key: Some("canary-sk-XYZ".into()),
            region: None,
        },
    }
}

const FIND: Op = Op::Find { page: 1 };

// ---- xfyeta -------------------------------------------------------------------------

fn xf_row(status: &str, extra: &str) -> String {
    format!(
        r#"{{"code":0,"message":"ok","result":{{"total_rows":1,"rows":[{{"task_id":"{ID}","task_name":"续保","status":{status},"deleted":0,"robot_id":11,"voice_code":"x1","time_recall_wait":60,"count_max_recall":2,"process_count":3,"count_tel":10,"line_num":"055169101407"{extra}}}]}}}}"#
    )
}

#[test]
fn xfyeta_every_status() {
    for (status, expected) in [
        ("0", Lifecycle::NotStarted),
        ("1", Lifecycle::Running),
        ("2", Lifecycle::Running),
        ("3", Lifecycle::Paused),
        ("4", Lifecycle::Finished),
        ("5", Lifecycle::Running),
        ("6", Lifecycle::Running),
        ("7", Lifecycle::Finished),
        ("8", Lifecycle::Unknown),
        ("-1", Lifecycle::Unknown),
        ("null", Lifecycle::Unknown),
        ("\"2\"", Lifecycle::Unknown),
    ] {
        let o = one(Vendor::Xfyeta, &xf_row(status, ""));
        assert_eq!(o.status, expected, "status {status}");
        assert_eq!(o.task_id, ID);
    }
    let o = one(Vendor::Xfyeta, &xf_row("2", ""));
    assert_eq!(o.raw, "2");
    assert_eq!(o.name.as_deref(), Some("续保"));
    assert_eq!((o.called, o.total), (Some(3), Some(10)));
    assert_eq!(
        o.fields,
        vec![
            ("robot_id".to_string(), serde_json::json!("11")),
            ("time_recall_wait".to_string(), serde_json::json!(60)),
            ("voice_code".to_string(), serde_json::json!("x1")),
        ]
    );
    // deleted: 1 wins over any status.
    let o = one(
        Vendor::Xfyeta,
        &xf_row("2", "").replace(r#""deleted":0"#, r#""deleted":1"#),
    );
    assert_eq!(
        (o.status, o.raw.as_str()),
        (Lifecycle::Deleted, "2 deleted=1")
    );
}

#[test]
fn xfyeta_no_such_task() {
    // 200202 (a bad task id): a listing without the task.
    let l = listing(
        Vendor::Xfyeta,
        Op::Query,
        r#"{"code":200202,"message":"错误的任务id","result":{}}"#,
    );
    assert!(l.tasks.is_empty());
    // 3010102 (already deleted): the task, deleted.
    let l = listing(
        Vendor::Xfyeta,
        Op::Query,
        r#"{"code":3010102,"message":"任务已经删除","result":{}}"#,
    );
    assert_eq!(l.tasks[0].status, Lifecycle::Deleted);
    assert_eq!(l.tasks[0].task_id, ID);
    // An empty list: without the task.
    let l = listing(
        Vendor::Xfyeta,
        Op::Query,
        r#"{"code":0,"result":{"total_rows":0,"rows":[]}}"#,
    );
    assert!(l.tasks.is_empty());
    // Rows of other tasks only: the filter was not applied, which proves nothing.
    failed(
        Vendor::Xfyeta,
        Op::Query,
        200,
        &xf_row("2", "").replace(ID, "999"),
    );
    // To a lookup by name, 200202 is no answer.
    failed(
        Vendor::Xfyeta,
        FIND,
        200,
        r#"{"code":200202,"message":"错误的任务id"}"#,
    );
}

#[test]
fn xfyeta_find_pages() {
    let rows: Vec<String> = (0..50)
        .map(|i| format!(r#"{{"task_id":"{i}","task_name":"续保{i}","status":2}}"#))
        .collect();
    let body = |total: &str| {
        format!(
            r#"{{"code":0,"result":{{"total_rows":{total},"rows":[{}]}}}}"#,
            rows.join(",")
        )
    };
    let l = listing(Vendor::Xfyeta, FIND, &body("120"));
    assert_eq!((l.tasks.len(), l.total, l.more), (50, Some(120), true));
    let l = listing(Vendor::Xfyeta, Op::Find { page: 3 }, &body("120"));
    assert!(!l.more);
    let l = listing(Vendor::Xfyeta, FIND, &body("50"));
    assert!(!l.more);
    // Without a total, a full page may have more.
    let l = listing(Vendor::Xfyeta, FIND, &body("null"));
    assert!(l.more);
}

#[test]
fn xfyeta_off_shape_reads_fail() {
    for body in [
        r#"{"code":0,"result":{}}"#,
        r#"{"code":0,"result":{"rows":[{"status":2}]}}"#,
        r#"{"code":0,"result":{"rows":{"task_id":"1"}}}"#,
        r#"{"message":"ok"}"#,
        "<html>gateway</html>",
        "",
    ] {
        for op in [Op::Query, FIND] {
            failed(Vendor::Xfyeta, op, 200, body);
        }
    }
    failed(Vendor::Xfyeta, Op::Query, 502, &xf_row("2", ""));
    match failed(
        Vendor::Xfyeta,
        Op::Query,
        200,
        r#"{"code":10001,"message":"token 13700000001 无效"}"#,
    ) {
        Parsed::Rejected { class, message, .. } => {
            assert_eq!(class, ErrorClass::Auth);
            assert!(!message.contains("13700000001"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

// ---- longlonglong -------------------------------------------------------------------

#[test]
fn longlonglong_every_state() {
    let detail = |extra: &str, status: &str| {
        format!(
            r#"{{"code":200,"status":"success","message":"ok","data":{{"name":"回访","maximumcall":3,"dial_time_id":5,"destination_extension":297,"remark":"call 13700000001","status":{status},"new_task_extra":{{{extra}"number_count":40}}}}}}"#
        )
    };
    for (extra, status, expected) in [
        (
            r#""enable":true,"call_status":true,"#,
            "2",
            Lifecycle::Running,
        ),
        (
            r#""enable":true,"call_status":false,"#,
            "3",
            Lifecycle::Running,
        ),
        (
            r#""enable":false,"call_status":false,"#,
            "1",
            Lifecycle::Paused,
        ),
        (
            r#""enable":false,"call_status":true,"#,
            "2",
            Lifecycle::Unknown,
        ),
        ("", "1", Lifecycle::Paused),
        ("", "2", Lifecycle::Running),
        ("", "3", Lifecycle::Running),
        ("", "9", Lifecycle::Unknown),
        ("", "null", Lifecycle::Unknown),
    ] {
        let o = one(Vendor::Longlonglong, &detail(extra, status));
        assert_eq!(o.status, expected, "{extra} {status}");
        // The detail names no task: it is the one asked for.
        assert_eq!(o.task_id, ID);
    }
    let o = one(
        Vendor::Longlonglong,
        &detail(r#""enable":true,"call_status":false,"#, "3"),
    );
    assert_eq!(o.raw, "enable=true call_status=false status=3");
    assert_eq!(o.total, Some(40));
    assert_eq!(
        o.fields,
        vec![
            ("destination_extension".to_string(), serde_json::json!(297)),
            ("dial_time_id".to_string(), serde_json::json!(5)),
            ("maximumcall".to_string(), serde_json::json!(3)),
            ("remark".to_string(), serde_json::json!("call 137****0001")),
        ]
    );
}

#[test]
fn longlonglong_list_and_off_shape() {
    let body = r#"{"code":200,"status":"success","message":"返回任务列表信息成功","meta":{"has_pages":true,"total":120,"last_page":3,"current_page":1,"per_page":50},"data":[{"uuid":"ec33","name":"回访","create_datetime":"2027-01-04 09:00:00","enable":false,"maximumcall":3,"new_task_extra":{"call_status":false}}]}"#;
    let l = listing(Vendor::Longlonglong, FIND, body);
    assert_eq!((l.total, l.more), (Some(120), true));
    let t = &l.tasks[0];
    assert_eq!(
        (t.task_id.as_str(), t.status, t.created.as_deref()),
        ("ec33", Lifecycle::Paused, Some("2027-01-04 09:00:00"))
    );
    let l = listing(Vendor::Longlonglong, Op::Find { page: 3 }, body);
    assert!(!l.more);
    for body in [
        r#"{"code":200,"status":"success","data":[{"name":"x"}]}"#,
        r#"{"code":200,"status":"success","data":{}}"#,
        r#"{"code":404,"status":"error","message":"not found"}"#,
    ] {
        failed(Vendor::Longlonglong, FIND, 200, body);
    }
    for body in [
        r#"{"code":200,"status":"success","data":[]}"#,
        r#"{"code":200,"status":"success","data":{"uuid":"other","enable":true}}"#,
        r#"{"code":404,"status":"error","message":"任务不存在"}"#,
        "<html/>",
    ] {
        failed(Vendor::Longlonglong, Op::Query, 200, body);
    }
    // No "no such task" is documented: a 404 is a failed read, not an absent task.
    failed(
        Vendor::Longlonglong,
        Op::Query,
        404,
        r#"{"code":404,"status":"error","message":"任务不存在"}"#,
    );
    match failed(
        Vendor::Longlonglong,
        Op::Query,
        401,
        r#"{"code":401,"status":"error","message":"token无效 13700000001"}"#,
    ) {
        Parsed::Rejected { message, .. } => assert!(!message.contains("13700000001")),
        other => panic!("{other:?}"),
    }
}

// ---- Aliyun -------------------------------------------------------------------------

fn al_detail(status: &str) -> String {
    let data = format!(
        r#"{{"id":{ID},"taskName":"欠费提醒","status":"{status}","corpName":"某公司","caller":"057100000001","numberStatusIdent":false,"retryType":1,"recallTimes":2,"recallInterval":5,"recallStateCodes":"200002","createTime":"2027-01-04 09:00:00"}}"#
    );
    serde_json::json!({"Code": "OK", "Message": "OK", "RequestId": "R", "Data": data}).to_string()
}

#[test]
fn aliyun_every_status() {
    for (status, expected) in [
        ("INIT", Lifecycle::NotStarted),
        ("READY", Lifecycle::Running),
        ("DISPATCH", Lifecycle::Running),
        ("EXCUTING", Lifecycle::Running),
        ("MANUAL_STOP", Lifecycle::Paused),
        ("SYSTEM_STOP", Lifecycle::Paused),
        ("ARREARS_STOP", Lifecycle::Paused),
        ("CANCEL", Lifecycle::Stopped),
        ("SYSTEM_CANCEL", Lifecycle::Stopped),
        ("FINISH", Lifecycle::Finished),
        ("EXECUTING", Lifecycle::Unknown),
        ("", Lifecycle::Unknown),
    ] {
        let o = one(Vendor::Aliyun, &al_detail(status));
        assert_eq!(o.status, expected, "{status}");
    }
    let o = one(Vendor::Aliyun, &al_detail("EXCUTING"));
    assert_eq!(o.raw, "EXCUTING");
    assert_eq!(o.created.as_deref(), Some("2027-01-04 09:00:00"));
    let keys: Vec<&str> = o.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "corp_name",
            "number_status_ident",
            "retry_type",
            "recall_times",
            "recall_interval"
        ]
    );
    assert!(!format!("{o:?}").contains("057100000001"));
}

#[test]
fn aliyun_data_is_parsed_twice() {
    let items = r#"[{"id":"1","taskName":"a","status":"FINISH","totalCount":10,"finishCount":10},{"id":2,"taskName":"b","status":"EXCUTING","totalCount":"7","finishCount":"3"}]"#;
    let body = serde_json::json!({"Code":"OK","Data":items,"PageNo":"1","PageSize":"50","TotalCount":"51"}).to_string();
    let l = listing(Vendor::Aliyun, FIND, &body);
    assert_eq!((l.tasks.len(), l.total, l.more), (2, Some(51), true));
    assert_eq!((l.tasks[1].called, l.tasks[1].total), (Some(3), Some(7)));
    assert!(l.tasks[0].fields.is_empty());
    // `Data` as an object (not a JSON string), not JSON, or another task: a failed read.
    for body in [
        format!(r#"{{"Code":"OK","Data":{{"id":{ID},"status":"INIT"}}}}"#),
        r#"{"Code":"OK","Data":"not json"}"#.to_string(),
        r#"{"Code":"OK","Data":""}"#.to_string(),
        r#"{"Code":"OK"}"#.to_string(),
        al_detail("INIT").replace(ID, "99"),
    ] {
        failed(Vendor::Aliyun, Op::Query, 200, &body);
    }
    failed(Vendor::Aliyun, FIND, 200, r#"{"Code":"OK","Data":"{}"}"#);
    assert!(matches!(
        failed(
            Vendor::Aliyun,
            Op::Query,
            400,
            r#"{"Code":"Throttling.User","Message":"m"}"#
        ),
        Parsed::Rejected {
            class: ErrorClass::Throttled,
            ..
        }
    ));
}

// ---- Volcengine ---------------------------------------------------------------------

fn vo_list(records: &str, total: u64) -> String {
    format!(
        r#"{{"ResponseMetadata":{{"RequestId":"R"}},"Result":{{"Records":[{records}],"Total":{total},"Limit":50,"Offset":0}}}}"#
    )
}

#[test]
fn volcengine_states_are_unknown_and_kept_raw() {
    for state in ["0", "1", "2", "3", "4", "5", "99"] {
        let record = format!(
            r#"{{"TaskOpenId":"{ID}","Name":"到货通知 13700000001","Resource":"tpl-1","State":{state},"ListNum":10,"CalledNum":4}}"#
        );
        let o = one(Vendor::Volcengine, &vo_list(&record, 1));
        assert_eq!((o.status, o.raw.as_str()), (Lifecycle::Unknown, state));
        assert_eq!((o.called, o.total), (Some(4), Some(10)));
        assert_eq!(o.name.as_deref(), Some("到货通知 137****0001"));
        assert_eq!(
            o.fields,
            vec![("resource".to_string(), serde_json::json!("tpl-1"))]
        );
    }
}

#[test]
fn volcengine_query_needs_the_task_in_the_list() {
    let other = r#"{"TaskOpenId":"other","Name":"x","State":1}"#;
    let mine = format!(r#"{{"TaskOpenId":"{ID}","Name":"y","State":1}}"#);
    let l = listing(
        Vendor::Volcengine,
        Op::Query,
        &vo_list(&format!("{other},{mine}"), 2),
    );
    assert_eq!(l.tasks.len(), 1);
    // The list not returning it proves nothing (no lookup by id): a failed read.
    failed(Vendor::Volcengine, Op::Query, 200, &vo_list(other, 1));
    failed(Vendor::Volcengine, Op::Query, 200, &vo_list("", 0));
    let l = listing(Vendor::Volcengine, FIND, &vo_list(other, 51));
    assert!(l.more);
    for body in [
        r#"{"ResponseMetadata":{},"Result":{}}"#,
        r#"{"ResponseMetadata":{},"Result":{"Records":[{"Name":"x"}]}}"#,
        r#"{"ResponseMetadata":{}}"#,
    ] {
        failed(Vendor::Volcengine, FIND, 200, body);
    }
    assert!(matches!(
        failed(
            Vendor::Volcengine,
            FIND,
            429,
            r#"{"ResponseMetadata":{"Error":{"Code":"RequestLimitExceeded","Message":"m"}}}"#
        ),
        Parsed::Rejected {
            class: ErrorClass::Throttled,
            ..
        }
    ));
}

// ---- the verbs ------------------------------------------------------------------------

fn send(vendor: Vendor, verb: Verb, from: Lifecycle) -> &'static str {
    match driver::verb_rule(vendor, verb, from) {
        VerbRule::Send { action, .. } => action,
        other => panic!("{vendor} {verb} from {from}: {other:?}"),
    }
}

fn missing(vendor: Vendor, verb: Verb, from: Lifecycle) {
    let rule = driver::verb_rule(vendor, verb, from);
    assert!(
        matches!(rule, VerbRule::Missing { why, instead } if !why.is_empty() && !instead.is_empty()),
        "{vendor} {verb} from {from}: {rule:?}"
    );
    assert!(
        driver::build_verb(vendor, verb, ID, from, &context()).is_err(),
        "{vendor} {verb} from {from} built a request"
    );
}

#[test]
fn the_verb_table() {
    use Lifecycle::*;
    use Verb::*;
    assert_eq!(send(Vendor::Xfyeta, Pause, Running), "task/pause");
    assert_eq!(send(Vendor::Xfyeta, Resume, Paused), "task/start");
    for from in [Running, Paused, NotStarted] {
        assert_eq!(send(Vendor::Xfyeta, Stop, from), "task/delete");
    }
    assert!(matches!(
        driver::verb_rule(Vendor::Xfyeta, Stop, Running),
        VerbRule::Send { note: Some(n), .. } if n.contains("DELETES")
    ));
    assert_eq!(send(Vendor::Longlonglong, Pause, Running), "task_stop");
    for from in [Paused, NotStarted] {
        missing(Vendor::Longlonglong, Resume, from);
    }
    missing(Vendor::Longlonglong, Stop, Running);
    missing(Vendor::Longlonglong, Stop, Paused);
    assert_eq!(send(Vendor::Aliyun, Pause, Running), "StopRobotTask");
    assert_eq!(send(Vendor::Aliyun, Resume, Paused), "StartRobotTask");
    assert_eq!(send(Vendor::Aliyun, Stop, Running), "CancelRobotTask");
    assert_eq!(
        send(Vendor::Aliyun, Stop, NotStarted),
        "CancelOrderRobotTask"
    );
    missing(Vendor::Aliyun, Stop, Paused);
    assert_eq!(send(Vendor::Volcengine, Pause, Running), "PauseTask");
    assert_eq!(send(Vendor::Volcengine, Resume, Paused), "ResumeTask");
    assert_eq!(send(Vendor::Volcengine, Stop, Running), "StopTask");
    // Volcengine's states are never known: the vendor decides, and the plan says so.
    for verb in [Pause, Resume, Stop] {
        assert!(matches!(
            driver::verb_rule(Vendor::Volcengine, verb, Unknown),
            VerbRule::Send { note: Some(_), .. }
        ));
    }
    for vendor in Vendor::ALL {
        assert_eq!(driver::verb_rule(vendor, Pause, Paused), VerbRule::Already);
        assert_eq!(
            driver::verb_rule(vendor, Resume, Running),
            VerbRule::Already
        );
        for from in [Finished, Stopped, Deleted] {
            assert_eq!(driver::verb_rule(vendor, Stop, from), VerbRule::Already);
            missing(vendor, Pause, from);
            missing(vendor, Resume, from);
        }
        missing(vendor, Pause, NotStarted);
        missing(vendor, Resume, NotStarted);
        if vendor != Vendor::Volcengine {
            for verb in [Pause, Resume, Stop] {
                missing(vendor, verb, Unknown);
            }
        }
    }
}

fn verb_answer(vendor: Vendor, verb: Verb, status: u16, body: &str) -> Parsed {
    Op::Verb(verb).classify(vendor, status, body.as_bytes(), false, Some(ID))
}

#[test]
fn a_verb_is_done_only_on_its_documented_success() {
    let done = |vendor, body: &str| {
        for verb in [Verb::Pause, Verb::Resume, Verb::Stop] {
            let p = verb_answer(vendor, verb, 200, body);
            assert!(
                matches!(p, Parsed::Done { .. }),
                "{vendor} {verb} {body}: {p:?}"
            );
            // The same body under a 5xx may or may not have been acted on.
            let p = verb_answer(vendor, verb, 502, body);
            assert!(
                matches!(p, Parsed::Uncertain { .. }),
                "{vendor} {verb}: {p:?}"
            );
        }
    };
    let uncertain = |vendor, status, body: &str| {
        let p = verb_answer(vendor, Verb::Stop, status, body);
        assert!(
            matches!(p, Parsed::Uncertain { .. }),
            "{vendor} {body}: {p:?}"
        );
    };
    done(Vendor::Xfyeta, r#"{"code":0,"message":"ok","result":{}}"#);
    done(
        Vendor::Longlonglong,
        r#"{"code":200,"status":"success","message":"ok","data":[]}"#,
    );
    done(
        Vendor::Aliyun,
        r#"{"Code":"OK","Message":"OK","RequestId":"R","Data":"true"}"#,
    );
    done(
        Vendor::Volcengine,
        r#"{"ResponseMetadata":{"RequestId":"R","Action":"PauseTask","Version":"2022-01-01"}}"#,
    );
    uncertain(Vendor::Longlonglong, 200, r#"{"status":"success"}"#);
    uncertain(
        Vendor::Longlonglong,
        200,
        r#"{"code":200,"status":"error"}"#,
    );
    uncertain(Vendor::Aliyun, 200, r#"{"Code":"OK","Data":"false"}"#);
    uncertain(Vendor::Aliyun, 200, r#"{"Code":"OK"}"#);
    uncertain(Vendor::Volcengine, 200, "{}");
    uncertain(Vendor::Xfyeta, 200, r#"{"code":-1,"message":"系统异常"}"#);
    uncertain(
        Vendor::Volcengine,
        500,
        r#"{"ResponseMetadata":{"Error":{"Code":"InternalError","Message":"m"}}}"#,
    );
    // Refusals that prove nothing happened.
    for (vendor, status, body, class) in [
        (
            Vendor::Xfyeta,
            200,
            r#"{"code":3010101,"message":"任务已经完成"}"#,
            ErrorClass::TaskState,
        ),
        (
            Vendor::Xfyeta,
            200,
            r#"{"code":10001,"message":"无效的token请求"}"#,
            ErrorClass::Auth,
        ),
        (
            Vendor::Aliyun,
            400,
            r#"{"Code":"Throttling.User"}"#,
            ErrorClass::Throttled,
        ),
        (
            Vendor::Volcengine,
            400,
            r#"{"ResponseMetadata":{"Error":{"Code":"InvalidParameter","Message":"号码 13700000001"}}}"#,
            ErrorClass::Business,
        ),
        (Vendor::Longlonglong, 401, "", ErrorClass::Auth),
    ] {
        match verb_answer(vendor, Verb::Pause, status, body) {
            Parsed::Rejected {
                class: c, message, ..
            } => {
                assert_eq!(c, class, "{vendor} {body}");
                assert!(!message.contains("13700000001"), "{message}");
            }
            other => panic!("{vendor} {body}: {other:?}"),
        }
    }
    for vendor in Vendor::ALL {
        for op in [
            Op::Verb(Verb::Pause),
            Op::Verb(Verb::Stop),
            Op::Query,
            FIND,
            Op::Update,
        ] {
            for rej in answer::rejections(vendor, op) {
                assert!(!rej.source.is_empty(), "{vendor} {op:?} {}", rej.code);
            }
        }
    }
}

#[test]
fn an_update_is_done_only_on_its_documented_success() {
    let update = |vendor, status, body: &str| {
        Op::Update.classify(vendor, status, body.as_bytes(), false, Some(ID))
    };
    assert!(matches!(
        update(
            Vendor::Longlonglong,
            200,
            r#"{"code":200,"status":"success","message":"ok","data":{}}"#
        ),
        Parsed::Done { .. }
    ));
    assert!(matches!(
        update(
            Vendor::Longlonglong,
            200,
            r#"{"code":422,"status":"error","message":"m"}"#
        ),
        Parsed::Uncertain { .. }
    ));
    assert!(matches!(
        update(
            Vendor::Volcengine,
            200,
            &format!(
                r#"{{"ResponseMetadata":{{}},"Result":{{"TaskOpenId":"{ID}","FailList":[]}}}}"#
            )
        ),
        Parsed::Done { .. }
    ));
    assert!(matches!(
        update(Vendor::Volcengine, 200, r#"{"ResponseMetadata":{}}"#),
        Parsed::Done { .. }
    ));
    assert!(matches!(
        update(
            Vendor::Volcengine,
            200,
            r#"{"ResponseMetadata":{},"Result":{"TaskOpenId":"other"}}"#
        ),
        Parsed::Uncertain { .. }
    ));
    assert!(matches!(
        update(
            Vendor::Volcengine,
            400,
            r#"{"ResponseMetadata":{"Error":{"Code":"InvalidParameter","Message":"m"}}}"#
        ),
        Parsed::Rejected {
            class: ErrorClass::Business,
            ..
        }
    ));
}

#[test]
fn reads_are_paced_and_idempotent() {
    assert_eq!(driver::read_qps(Vendor::Aliyun), 100);
    for vendor in Vendor::ALL {
        assert!(driver::read_qps(vendor) >= 1);
        assert_eq!(Op::Query.retry_policy(), answer::RetryPolicy::Idempotent);
        assert_eq!(
            Op::Verb(Verb::Stop).retry_policy(),
            answer::RetryPolicy::OnlyIfNothingHappened
        );
    }
}

/// A read or a verb without its credential names the field, never a value.
#[test]
fn a_missing_credential_names_the_field() {
    let cx = Context {
        timezone: TimeZone::UTC,
        credentials: Credentials::default(),
    };
    for (vendor, field) in [
        (Vendor::Xfyeta, "`token`"),
        (Vendor::Longlonglong, "`user_id`"),
        (Vendor::Aliyun, "`access_key_id`"),
        (Vendor::Volcengine, "`access_key`"),
    ] {
        let errors = [
            driver::build_query(vendor, ID, &cx).unwrap_err(),
            driver::build_find(vendor, "n", 1, &cx).unwrap_err(),
            driver::build_verb(vendor, Verb::Pause, ID, Lifecycle::Running, &cx).unwrap_err(),
        ];
        for e in errors {
            assert!(e.0.contains(field), "{vendor}: {e}");
        }
    }
}

/// The query names its task for the answer's reading; a lookup names none.
#[test]
fn a_query_names_its_task_and_a_lookup_none() {
    for vendor in Vendor::ALL {
        let q = driver::build_query(vendor, ID, &context()).unwrap();
        assert_eq!(q.target.as_deref(), Some(ID), "{vendor}");
        let f = driver::build_find(vendor, "续保", 2, &context()).unwrap();
        assert_eq!(f.target, None, "{vendor}");
        let v =
            driver::build_verb(vendor, Verb::Pause, ID, Lifecycle::Running, &context()).unwrap();
        assert_eq!(v.target.as_deref(), Some(ID), "{vendor}");
    }
    // Page 2 asks for the second page in each vendor's terms.
    let shown = |vendor| {
        let f = driver::build_find(vendor, "续保", 2, &context()).unwrap();
        driver::display(&f, "", false).to_string()
    };
    assert!(shown(Vendor::Xfyeta).contains(r#""page_index":2"#));
    assert!(shown(Vendor::Longlonglong).contains("page=2&per_page=50"));
    assert!(shown(Vendor::Aliyun).contains("PageNo=2&PageSize=50"));
    assert!(shown(Vendor::Volcengine).contains(r#""Offset":50"#));
}
