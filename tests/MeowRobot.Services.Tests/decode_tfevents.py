#!/usr/bin/python3
"""An independent reader of TensorBoard event files, for the tests: TFRecord framing checked record by record (length
and data CRCs, masked CRC-32C computed here from its definition, not by the writer's code), each record parsed as an
`Event` by Debian's python3-protobuf with the messages declared below (field numbers from TensorFlow's event.proto,
summary.proto, tensor.proto and TensorBoard's hparams plugin_data.proto/api.proto, google.protobuf.Value's scalars).

  decode_tfevents.py FILE...   prints one JSON document: records, scalars by tag, texts, hparams; exits 1 on a bad record.
"""
import json
import struct
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto
OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED

# message name -> fields (name, number, type, label, message type or None)
MESSAGES = {
    "Event": [("wall_time", 1, F.TYPE_DOUBLE, OPT, None), ("step", 2, F.TYPE_INT64, OPT, None),
              ("file_version", 3, F.TYPE_STRING, OPT, None), ("summary", 5, F.TYPE_MESSAGE, OPT, "Summary")],
    "Summary": [("value", 1, F.TYPE_MESSAGE, REP, "SummaryValue")],
    "SummaryValue": [("tag", 1, F.TYPE_STRING, OPT, None), ("simple_value", 2, F.TYPE_FLOAT, OPT, None),
                     ("tensor", 8, F.TYPE_MESSAGE, OPT, "TensorProto"), ("metadata", 9, F.TYPE_MESSAGE, OPT, "SummaryMetadata")],
    "SummaryMetadata": [("plugin_data", 1, F.TYPE_MESSAGE, OPT, "PluginData")],
    "PluginData": [("plugin_name", 1, F.TYPE_STRING, OPT, None), ("content", 2, F.TYPE_BYTES, OPT, None)],
    "TensorProto": [("dtype", 1, F.TYPE_INT32, OPT, None), ("tensor_shape", 2, F.TYPE_MESSAGE, OPT, "TensorShapeProto"),
                    ("float_val", 5, F.TYPE_FLOAT, REP, None), ("string_val", 8, F.TYPE_BYTES, REP, None)],
    "TensorShapeProto": [("dim", 2, F.TYPE_MESSAGE, REP, "Dim")],
    "Dim": [("size", 1, F.TYPE_INT64, OPT, None)],
    "HParamsPluginData": [("version", 1, F.TYPE_INT32, OPT, None), ("experiment", 2, F.TYPE_MESSAGE, OPT, "Experiment"),
                          ("session_start_info", 3, F.TYPE_MESSAGE, OPT, "SessionStartInfo"),
                          ("session_end_info", 4, F.TYPE_MESSAGE, OPT, "SessionEndInfo")],
    "Experiment": [("time_created_secs", 3, F.TYPE_DOUBLE, OPT, None), ("hparam_infos", 4, F.TYPE_MESSAGE, REP, "HParamInfo"),
                   ("metric_infos", 5, F.TYPE_MESSAGE, REP, "MetricInfo")],
    "HParamInfo": [("name", 1, F.TYPE_STRING, OPT, None), ("type", 4, F.TYPE_INT32, OPT, None)],
    "MetricInfo": [("name", 1, F.TYPE_MESSAGE, OPT, "MetricName")],
    "MetricName": [("group", 1, F.TYPE_STRING, OPT, None), ("tag", 2, F.TYPE_STRING, OPT, None)],
    "SessionStartInfo": [("hparams", 1, F.TYPE_MESSAGE, REP, "HParamsEntry"), ("group_name", 4, F.TYPE_STRING, OPT, None),
                         ("start_time_secs", 5, F.TYPE_DOUBLE, OPT, None)],
    # map<string, Value> is, on the wire, a repeated message of key 1 and value 2.
    "HParamsEntry": [("key", 1, F.TYPE_STRING, OPT, None), ("value", 2, F.TYPE_MESSAGE, OPT, "Value")],
    "Value": [("number_value", 2, F.TYPE_DOUBLE, OPT, None), ("string_value", 3, F.TYPE_STRING, OPT, None),
              ("bool_value", 4, F.TYPE_BOOL, OPT, None)],
    "SessionEndInfo": [("status", 1, F.TYPE_INT32, OPT, None), ("end_time_secs", 2, F.TYPE_DOUBLE, OPT, None)],
}


def message_classes():
    file = descriptor_pb2.FileDescriptorProto(name="meow_test_events.proto", package="meowtest", syntax="proto2")
    for name, fields in MESSAGES.items():
        m = file.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = ".meowtest." + type_name
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    factory = message_factory.MessageFactory(pool)  # GetPrototype: Debian 12's protobuf (3.21) predates GetMessageClass
    return {name: factory.GetPrototype(pool.FindMessageTypeByName("meowtest." + name)) for name in MESSAGES}


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def records(path):
    with open(path, "rb") as f:
        data = f.read()
    at = 0
    while at < len(data):
        if len(data) - at < 12:
            raise ValueError(f"{path}: {len(data) - at} trailing bytes, not a record header")
        length, = struct.unpack_from("<Q", data, at)
        header_crc, = struct.unpack_from("<I", data, at + 8)
        if header_crc != masked(crc32c(data[at:at + 8])):
            raise ValueError(f"{path}: bad length CRC at offset {at}")
        body = data[at + 12:at + 12 + length]
        if len(body) != length or len(data) < at + 16 + length:
            raise ValueError(f"{path}: record at offset {at} is cut short")
        data_crc, = struct.unpack_from("<I", data, at + 12 + length)
        if data_crc != masked(crc32c(body)):
            raise ValueError(f"{path}: bad data CRC at offset {at}")
        yield body
        at += 16 + length


def decode(paths):
    m = message_classes()
    out = {"records": 0, "file_versions": [], "scalars": {}, "texts": {}, "hparams": {}, "hparam_infos": [],
           "metric_tags": [], "group_name": None, "session_end_status": None}
    for path in paths:
        for body in records(path):
            out["records"] += 1
            event = m["Event"].FromString(body)
            if event.file_version:
                out["file_versions"].append(event.file_version)
            for v in event.summary.value:
                plugin = v.metadata.plugin_data.plugin_name
                if plugin == "hparams":
                    data = m["HParamsPluginData"].FromString(v.metadata.plugin_data.content)
                    if v.tag == "_hparams_/experiment":
                        out["hparam_infos"] = [(h.name, h.type) for h in data.experiment.hparam_infos]
                        out["metric_tags"] = [mi.name.tag for mi in data.experiment.metric_infos]
                    elif v.tag == "_hparams_/session_start_info":
                        for entry in data.session_start_info.hparams:
                            value = entry.value
                            out["hparams"][entry.key] = (value.string_value if value.HasField("string_value") else
                                                         value.bool_value if value.HasField("bool_value") else value.number_value)
                        out["group_name"] = data.session_start_info.group_name
                    elif v.tag == "_hparams_/session_end_info":
                        out["session_end_status"] = data.session_end_info.status
                elif plugin == "text":
                    out["texts"][v.tag] = v.tensor.string_val[0].decode("utf-8")
                elif v.HasField("simple_value"):
                    out["scalars"].setdefault(v.tag, []).append([event.step, v.simple_value])
    return out


if __name__ == "__main__":
    try:
        print(json.dumps(decode(sys.argv[1:]), indent=1))
    except ValueError as e:
        print(f"decode_tfevents: {e}", file=sys.stderr)
        sys.exit(1)
