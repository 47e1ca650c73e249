# Starts ministack for the deploy test, with one change: ministack (1.5.33) refuses a CloudFormation alarm on
# metric math (Properties.Metrics), and the stack has one (the failure-ratio alarm). Here such an alarm is
# created from the first metric of its expression instead: ministack evaluates no alarm anyway, and the real
# template deploys whole.
import sys

from ministack.services.cloudformation import provisioners

_alarm_record = provisioners._cw_metric_alarm_record


def _alarm_record_metric_math(name, props):
    metrics = props.get("Metrics")
    if not metrics:
        return _alarm_record(name, props)
    stat = next(m["MetricStat"] for m in metrics if "MetricStat" in m)
    flat = {k: v for k, v in props.items() if k != "Metrics"}
    flat.update(
        MetricName=stat["Metric"]["MetricName"],
        Namespace=stat["Metric"]["Namespace"],
        Dimensions=stat["Metric"].get("Dimensions", []),
        Period=stat["Period"],
        Statistic=stat["Stat"],
    )
    return _alarm_record(name, flat)


provisioners._cw_metric_alarm_record = _alarm_record_metric_math

from ministack.app import main  # noqa: E402

sys.argv = ["ministack"]
main()
