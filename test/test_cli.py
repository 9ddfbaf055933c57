"""The shared ``-p/--param NAME:=VALUE`` option: typed values, bad items refused, the tools."""

import argparse

import pytest

from poseflow_ros.cli import add_param_option, parse_param, parse_params


def test_values_are_typed_as_yaml():
    got = parse_params(
        [
            'tracker.n_init:=3',
            'det_score:=0.5',
            'publish_debug_image:=true',
            'embedder:=color',
            'roi:=[1, 2]',
            'device:=cuda:0',
            'frame_id:=',
        ]
    )
    assert got == {
        'tracker.n_init': 3,
        'det_score': 0.5,
        'publish_debug_image': True,
        'embedder': 'color',
        'roi': [1, 2],
        'device': 'cuda:0',
        'frame_id': None,
    }
    assert type(got['tracker.n_init']) is int and type(got['det_score']) is float


def test_a_later_item_wins():
    assert parse_params(['device:=cpu', 'device:=cuda']) == {'device': 'cuda'}
    # only the first ':=' separates: the value keeps the rest
    assert parse_param('a:=b:=c') == ('a', 'b:=c')


@pytest.mark.parametrize('bad', ['device=cpu', 'device', ':=cpu', ''])
def test_a_bad_item_is_refused_by_name(bad):
    with pytest.raises(ValueError) as e:
        parse_params(['device:=cpu', bad])
    assert str(e.value) == f'parameter override {bad!r} is not NAME:=VALUE'


def test_option_collects_strings_in_order():
    ap = argparse.ArgumentParser()
    add_param_option(ap, 'extra thing')
    a = ap.parse_args(['-p', 'x:=1', '--param', 'y:=two'])
    assert a.param == ['x:=1', 'y:=two']
    assert ap.parse_args([]).param == []
    assert 'NAME:=VALUE' in ap.format_help() and 'extra thing' in ap.format_help()


def test_tools_refuse_a_bad_item(capsys):
    from poseflow_ros import demo
    from poseflow_ros.ros.bag_tool import BagError, load_settings

    # argparse's usage error (exit 2) before anything starts
    with pytest.raises(SystemExit) as e:
        demo.main(['-p', 'device=cpu'])
    assert e.value.code == 2
    assert "parameter override 'device=cpu' is not NAME:=VALUE" in capsys.readouterr().err
    with pytest.raises(BagError, match=r"parameter override 'n_init' is not NAME:=VALUE"):
        load_settings(None, ['n_init'], None)
    # nested names reach the sub-config, typed
    cfg, _ = load_settings(None, ['tracker.n_init:=1', 'device:=cpu'], None)
    assert cfg.tracker['n_init'] == 1 and cfg.device == 'cpu'


def test_bag_tool_accepts_a_renamed_setting_by_its_old_name():
    """Params written before a rename (cuda_graphs) still load in the bag tool, as in the node."""
    import warnings

    from poseflow_ros.ros.bag_tool import BagError, load_settings

    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FutureWarning)
        cfg, _ = load_settings(None, ['cuda_graphs:=false'], None)
    assert cfg.cuda_graph is False
    assert load_settings(None, [], None)[0].cuda_graph is True
    with pytest.raises(BagError, match='bogus'):
        load_settings(None, ['bogus:=1'], None)
