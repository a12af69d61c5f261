"""Judgement: plain snapshot data in, verdicts out; nothing here talks to a host.

  engine.py    judge(control, snap, vm) and needs(controls, policy): the kind registry
  when.py      a control's `when:` gate
  kinds/       declarative check kinds, one module each (sysctl, libvirt_conf, ...)
  functions/   Python controls (`kind: function`), one module per domain or theme
  fleet/       inventory-wide analyses (isolation between VMs across hosts)
  read/        readers every kind and function shares (artifacts, XML, libvirt files, ...)
"""
